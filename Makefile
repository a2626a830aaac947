# botu - a mail-driven community list manager.
#
#   make            build ./botu
#   make check      install what is missing, then run every test
#   make demo       install what is missing, then show botu at work
#   make asan       build build-asan/botu with AddressSanitizer + UBSan
#   make lint       house style and banned functions
#   make bench      throughput and footprint next to the reference
#   make install    install under PREFIX (/usr/local), DESTDIR for packages
#   make uninstall  remove what make install put there

PREFIX	?= /usr/local
BUILD	?= build
# Where `make install` puts things (DESTDIR is prepended, for packaging).
BINDIR	?= $(PREFIX)/bin
DATADIR	?= $(PREFIX)/share
TEMPLATEDIR ?= $(DATADIR)/botu/templates
DOCDIR	?= $(DATADIR)/doc/botu
MANDIR	?= $(DATADIR)/man
UNITDIR	?= $(PREFIX)/lib/systemd/system

PKGS	 = libcurl sqlite3 libical inih gnutls
# Debian's libetpan.pc makes a non-PIE binary: link it plainly (LIBRARIES.md §0).
LIBETPAN = -letpan

CFLAGS	?= -O2 -g
HARDEN	 = -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	   -fstack-clash-protection -fcf-protection
ifeq ($(SAN),1)
HARDEN	 = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	   -fno-omit-frame-pointer
SANLD	 = -fsanitize=address,undefined
endif
ALLCFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
	   -Wformat=2 -Wno-format-nonliteral -Wno-format-truncation -Wvla -fPIE $(HARDEN) \
	   -Iinclude $(shell pkg-config --cflags $(PKGS)) \
	   -DBOTU_TEMPLATEDIR='"$(TEMPLATEDIR)"' $(CFLAGS)
ALLLDFLAGS = -pie -Wl,-z,relro,-z,now $(SANLD) $(LDFLAGS)
LDLIBS	 = $(LIBETPAN) $(shell pkg-config --libs $(PKGS)) -lpthread -lm

# One source per line; everything but main.c goes into the library that the
# tests link too.
SRCS	 = src/addr.c
SRCS	+= src/authres.c
SRCS	+= src/bounce.c
SRCS	+= src/classify.c
SRCS	+= src/cli.c
SRCS	+= src/cmd_backup.c
SRCS	+= src/cmd_check.c
SRCS	+= src/cmd_digest.c
SRCS	+= src/cmd_explain.c
SRCS	+= src/cmd_meeting.c
SRCS	+= src/cmd_members.c
SRCS	+= src/cmd_notes.c
SRCS	+= src/cmd_outbox.c
SRCS	+= src/cmd_run.c
SRCS	+= src/compose.c
SRCS	+= src/config.c
SRCS	+= src/confirm.c
SRCS	+= src/consent.c
SRCS	+= src/csvimport.c
SRCS	+= src/daemon.c
SRCS	+= src/dates.c
SRCS	+= src/db.c
SRCS	+= src/deliver.c
SRCS	+= src/digest.c
SRCS	+= src/handle.c
SRCS	+= src/ical.c
SRCS	+= src/imap.c
SRCS	+= src/intake.c
SRCS	+= src/log.c
SRCS	+= src/mailout.c
SRCS	+= src/meetings.c
SRCS	+= src/memberdata.c
SRCS	+= src/members.c
SRCS	+= src/message.c
SRCS	+= src/msgworker.c
SRCS	+= src/notes.c
SRCS	+= src/outbox.c
SRCS	+= src/posts.c
SRCS	+= src/retention.c
SRCS	+= src/rsvp.c
SRCS	+= src/schedule.c
SRCS	+= src/score.c
SRCS	+= src/selfservice.c
SRCS	+= src/sendtest.c
SRCS	+= src/smtp.c
SRCS	+= src/summary.c
SRCS	+= src/template.c
SRCS	+= src/textclean.c
SRCS	+= src/tls.c
SRCS	+= src/token.c
SRCS	+= src/util.c
SRCS	+= src/verp.c
SRCS	+= src/waaier.c

OBJS	 = $(SRCS:src/%.c=$(BUILD)/%.o)
LIB	 = $(BUILD)/libbotu.a

UNIT_SRCS = $(wildcard tests/unit/test_*.c)
UNIT_BINS = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

ifeq ($(BUILD),build)
PROG	 = botu
else
PROG	 = $(BUILD)/botu
endif

.PHONY: all asan check check-run unit integration demo lint bench \
	bench-smoke clean deps drivers fuzz fuzz-smoke fuzz-lib install \
	uninstall reliability valgrind FORCE

all: $(PROG)

$(PROG): $(BUILD)/main.o $(LIB)
	$(CC) $(ALLLDFLAGS) -o $@ $(BUILD)/main.o $(LIB) $(LDLIBS)

$(LIB): $(OBJS)
	rm -f $@
	$(AR) rcs $@ $(OBJS)

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) -MMD -MP -c -o $@ $<

# The binary knows where the templates are installed: template.o is built
# again when that changes (`make install PREFIX=/usr` after a plain make).
$(BUILD)/templatedir: FORCE
	@mkdir -p $(@D)
	@echo '$(TEMPLATEDIR)' | cmp -s - $@ || echo '$(TEMPLATEDIR)' >$@

$(BUILD)/template.o: $(BUILD)/templatedir

FORCE:

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(ALLLDFLAGS) -Itests/unit -o $@ $< $(LIB) \
	    $(LDLIBS) $(shell pkg-config --libs cmocka)

# Small programs that drive one module from the integration tests.
DRIVERS	 = $(BUILD)/tests/imap_driver
DRIVERS	+= $(BUILD)/tests/smtp_driver

$(BUILD)/tests/%_driver: tests/integration/%_driver.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(ALLLDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

drivers: $(DRIVERS)

asan:
	$(MAKE) BUILD=build-asan SAN=1 build-asan/botu

# libFuzzer targets for botu's own parsers (clang). `make fuzz` runs each
# for FUZZ_SECONDS; `make fuzz-smoke` (part of check) for a few seconds.
# Crashes land in build-fuzz/crashes/; each one becomes a file in
# tests/fuzz/regressions/<target>/, which every run replays first.
FUZZ_SRCS    = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_TARGETS = $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 300
FUZZ_CC      = clang
FUZZ_CFLAGS  = -O1 -g -fsanitize=fuzzer-no-link -Wno-unknown-warning-option \
	       -Wno-string-concatenation

fuzz-lib:
	$(MAKE) BUILD=build-fuzz SAN=1 CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" \
	    build-fuzz/libbotu.a

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h fuzz-lib
	$(FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude \
	    -fsanitize=fuzzer,address,undefined -o $@ $< build-fuzz/libbotu.a \
	    $(LDLIBS)

fuzz: deps $(FUZZ_TARGETS)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_TARGETS)
	tests/fuzz/run.sh 8 $(FUZZ_TARGETS)


deps:
	@tests/install-deps.sh

# The README's test command. It installs what is missing first, so a fresh
# Debian 12 machine needs nothing else.
check: deps
	$(MAKE) check-run

# The integration tests run the sanitizer build: a leak or an error in any
# botu process (the parse worker too) fails the test that started it.
check-run: all lint drivers
	$(MAKE) BUILD=build-asan SAN=1 build-asan/botu unit
	$(MAKE) fuzz-smoke
	$(MAKE) bench-smoke
	BOTU_BIN=$(CURDIR)/build-asan/botu BOTU=$(CURDIR)/build-asan/botu \
	    tests/integration/run.sh
	$(MAKE) valgrind VALGRIND_TESTS=$(VALGRIND_SHORT)

# The figures of the README's Reliability section, under the sanitizer
# build: the kill test (1,000 mails in and out, 50 random SIGKILLs and every
# crash point; KILL_MAILS, KILL_RANDOM), the outages and the hostile input.
# check-run runs the same files.
KILL_MAILS  ?= 1000
KILL_RANDOM ?= 50
RELIABILITY  = tests/integration/test_kill.py \
	       tests/integration/test_outage.py \
	       tests/integration/test_hostile.py \
	       tests/integration/test_impersonation.py
reliability: all
	$(MAKE) BUILD=build-asan SAN=1 build-asan/botu
	BOTU_KILL_MAILS=$(KILL_MAILS) BOTU_KILL_RANDOM=$(KILL_RANDOM) \
	    BOTU_BIN=$(CURDIR)/build-asan/botu BOTU=$(CURDIR)/build-asan/botu \
	    tests/integration/run.sh $(RELIABILITY)

# Part of the integration suite with every botu process (the parse worker
# too) under valgrind's memcheck: an error or a definite leak fails the
# test that started it (tests/valgrind/botu). check-run runs VALGRIND_SHORT.
# (test_notes.py and test_intake.py pick the sanitizer build themselves.)
VALGRIND_TESTS ?= tests/integration/test_flow.py \
		  tests/integration/test_intent.py \
		  tests/integration/test_bounce.py
VALGRIND_SHORT  = tests/integration/test_flow.py
valgrind: all
	BOTU_BIN=$(CURDIR)/tests/valgrind/botu BOTU=$(CURDIR)/tests/valgrind/botu \
	    BOTU_VALGRIND_BIN=$(CURDIR)/$(PROG) \
	    tests/integration/run.sh $(VALGRIND_TESTS)

# The worker tests start the botu binary of the same build; the corpus
# test reads ../shared/corpora beside the repository.
unit: $(PROG) $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do \
	    echo "== $$t"; BOTU_SRCDIR=$(CURDIR) BOTU_EXE=$(CURDIR)/$(PROG) \
	    BOTU_CORPUS=$(CURDIR)/../shared/corpora $$t; done

# test_intake.py runs the corpora through build-asan/botu.
integration: all drivers
	$(MAKE) BUILD=build-asan SAN=1 build-asan/botu
	tests/integration/run.sh

demo: deps
	$(MAKE) all
	tests/demo.py

lint:
	@tests/lint.sh

# The operator's files, under DESTDIR for a package. Configuration and the
# database are the operator's: install and uninstall leave /etc/botu and
# /var/lib/botu alone.
install: $(PROG)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(TEMPLATEDIR) \
	    $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR)
	install -m 755 $(PROG) $(DESTDIR)$(BINDIR)/botu
	install -m 644 templates/README $(DESTDIR)$(TEMPLATEDIR)/README
	for d in templates/*/; do \
	    lang=$$(basename $$d); \
	    install -d $(DESTDIR)$(TEMPLATEDIR)/$$lang && \
	    install -m 644 $$d* $(DESTDIR)$(TEMPLATEDIR)/$$lang \
	    || exit 1; \
	done
	install -m 644 botu.conf.example README.md $(DESTDIR)$(DOCDIR)
	install -m 644 src/botu.8 $(DESTDIR)$(MANDIR)/man8/botu.8
	install -m 644 src/botu.conf.5 $(DESTDIR)$(MANDIR)/man5/botu.conf.5
	sed 's|/usr/local/bin/botu|$(BINDIR)/botu|g' etc/botu.service \
	    >$(DESTDIR)$(UNITDIR)/botu.service
	chmod 644 $(DESTDIR)$(UNITDIR)/botu.service

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/botu $(DESTDIR)$(UNITDIR)/botu.service \
	    $(DESTDIR)$(MANDIR)/man8/botu.8 $(DESTDIR)$(MANDIR)/man5/botu.conf.5
	rm -rf $(DESTDIR)$(TEMPLATEDIR) $(DESTDIR)$(DOCDIR)
	rmdir $(DESTDIR)$(DATADIR)/botu 2>/dev/null || true

# The benchmarks (tests/bench/bench.py): the full run (about 6 minutes)
# prints the table of README's "Performance" section to stdout and to
# build/bench/results.txt; BENCH_LIMITS=1 adds the 7-minute rate-limit run.
# `make bench-smoke` (part of check-run) is a few seconds of the same, to
# see that it still works; it never fails on a slow ratio.
BENCH_DRIVERS = $(BUILD)/bench/enqueue

$(BUILD)/bench/%: tests/bench/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(ALLCFLAGS) $(ALLLDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

bench: deps
	$(MAKE) all drivers $(BENCH_DRIVERS)
	tests/bench/run.sh

bench-smoke: all drivers $(BENCH_DRIVERS)
	tests/bench/run.sh --smoke

clean:
	rm -rf build build-asan build-fuzz botu

-include $(OBJS:.o=.d) $(BUILD)/main.d
