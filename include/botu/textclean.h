/*
 * textclean.h - the words a person wrote themselves in a mail: quoted
 * text, reply attributions (Dutch and English, as Gmail, Outlook, Apple
 * Mail and phones write them), forwarded messages, signatures and "sent
 * from my phone" lines are cut away. Only what remains may make botu act.
 */
#ifndef BOTU_TEXTCLEAN_H
#define BOTU_TEXTCLEAN_H

/*
 * The text of a mail body without quotes, attributions, forwards and
 * signatures; lines trimmed, empty lines at the ends dropped. Owned by the
 * caller.
 */
char	*text_own_words(const char *body);

/*
 * The sentences that carry meaning: greetings ("Hoi Annerike,", "Dear
 * all") and closings ("Groetjes, Piet", "Thanks!") removed, everything
 * lowercase, punctuation turned into spaces, runs of spaces made one. "" if
 * nothing is left. Owned by the caller.
 */
char	*text_core(const char *own_words);

/*
 * The message itself, as the writer wrote it (case and punctuation kept):
 * own words without a greeting on the first line ("Hoi Annerike,"), and
 * without a closing near the end ("Groetjes,\nPiet") and what follows it,
 * or a bare name as the last line. For text that botu keeps, such as a PS
 * note. Owned by the caller.
 */
char	*text_message(const char *own_words);

/*
 * A subject without reply and forward prefixes ("Re:", "Antw:", "AW:") and
 * without list tags ("[botu]"), lowercase, punctuation as spaces.
 * *prefix gets 'r' for a reply, 'f' for a forward, 0 for neither.
 */
char	*text_subject(const char *subject, char *prefix);

/* Words in a core text, for language guesses. */
int	text_count_words(const char *core);

#endif
