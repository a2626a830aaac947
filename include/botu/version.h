#ifndef BOTU_VERSION_H
#define BOTU_VERSION_H
#define BOTU_VERSION "0.1.0"
#endif
