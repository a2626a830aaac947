/*
 * err.h - status codes shared by every module, classified by blast radius
 * (what the caller must do), so no caller has to match error strings.
 */
#ifndef BOTU_ERR_H
#define BOTU_ERR_H

/* Size of the caller-provided buffer that library-style modules fill with
 * one human-readable line when they fail; the caller decides how to log. */
#define BOTU_ERRLEN 512

enum botu_status {
	BOTU_OK = 0,
	BOTU_ETEMP = -1,	/* retry this item later */
	BOTU_EPERM = -2,	/* give up on this item for good */
	BOTU_ECONN = -3,	/* drop the connection and reconnect */
	BOTU_EPOISON = -4,	/* set this message aside */
	BOTU_ECONFIG = -5,	/* fix the configuration; retrying won't */
	BOTU_EDATA = -6,	/* the input or the store is not as it should */
	BOTU_EAUTH = -7,	/* the server refused our login: wait long */
};

#endif
