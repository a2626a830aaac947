/* mailout.c - see mailout.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "botu/addr.h"
#include "botu/mailout.h"
#include "botu/members.h"
#include "botu/outbox.h"
#include "botu/util.h"
#include "botu/verp.h"

const char *const mailout_templates[] = {
	"confirm-subscribe",
	"confirm-unsubscribe",
	"welcome",
	"help",
	"already-member",
	"note-confirm",
	"note-moderate",
	"note-remind",
	"note-published",
	"note-rejected",
	"note-question",
	"note-empty",
	"digest",
	"digest-rhythm",
	"update-confirm",
	"update-moderate",
	"update-published",
	"update-rejected",
	"note-too-long",
	"note-already-decided",
	"note-withdraw-confirm",
	"note-withdrawn",
	"profile",
	"my-data",
	"confirm-forget",
	"language",
	"confirm-pause",
	"paused",
	"resumed",
	"confirm-address",
	"address-changed",
	"summary",
	"probe",
	"send-test",
	"meeting-invite",
	"meeting-update",
	"meeting-cancel",
	"meeting-reminder",
	NULL,
};

static void
set_plus(struct tmpl_vars *vars, const struct botu_conf *conf,
    const char *name, const char *detail)
{
	char *a = addr_plus(conf, detail);

	tmpl_set(vars, name, a);
	free(a);
}

void
mailout_list_vars(const struct botu_conf *conf, struct tmpl_vars *vars,
    const char *unsubscribe)
{
	tmpl_set(vars, "list_name", conf->list.name[0] != '\0' ?
	    conf->list.name : conf->list.address);
	tmpl_set(vars, "list_address", conf->list.address);
	tmpl_set(vars, "list_id", conf->list.id);
	if (conf->meetings.organizer_name[0] != '\0')
		tmpl_set(vars, "organizer_name", conf->meetings.organizer_name);
	set_plus(vars, conf, "help_address", "help");
	set_plus(vars, conf, "subscribe_address", "aanmelden");
	set_plus(vars, conf, "ps_address", "ps");
	set_plus(vars, conf, "update_address", "update");
	if (unsubscribe != NULL)
		tmpl_set(vars, "unsubscribe_address", unsubscribe);
	else
		set_plus(vars, conf, "unsubscribe_address", "afmelden");
}

static int
queue_composed(struct botu_db *db, const struct botu_conf *conf,
    const struct mailout *m, const struct tmpl_mail *tm, char *err)
{
	struct outgoing o = {
		.to = m->to,
		.to_name = m->to_name,
		.subject = tm->subject,
		.text = tm->text,
		.html = tm->html,
		.reply_to = m->reply_to,
		.in_reply_to = m->in_reply_to,
		.references = m->references,
		.unsubscribe = m->unsubscribe,
		.auto_submitted = m->auto_submitted,
		.parts = m->parts,
		.nparts = m->nparts,
	};
	struct outbox_mail om = {
		.kind = m->kind,
		.member_id = m->member_id,
		.rcpt = m->to,
		.envelope_from = conf->list.address,
		.expires_at = m->expires_at,
		.ordered = m->ordered,
		.cause = m->in_reply_to,
	};
	char *mid = compose_message_id(addr_domain(conf));
	struct buf b;
	int64_t id = 0;
	int rc;

	buf_init(&b);
	rc = compose(conf, &o, mid, time(NULL), &b, err);
	if (rc == BOTU_OK) {
		om.message_id = mid;
		om.data = b.s;
		om.len = b.len;
		rc = outbox_add(db, &om, &id);
		if (rc == BOTU_OK)
			rc = verp_apply(db, conf, id);
		if (rc == BOTU_OK && m->outbox_id != NULL)
			*m->outbox_id = id;
		if (rc != BOTU_OK)
			snprintf(err, BOTU_ERRLEN, "cannot store the mail: %s",
			    db_errmsg(db));
	}
	buf_free(&b);
	free(mid);
	return rc;
}

int
mailout_queue(struct botu_db *db, const struct botu_conf *conf,
    const struct mailout *m, struct tmpl_vars *vars, char err[BOTU_ERRLEN])
{
	/* NULL ends the list: "" is skipped, as an unknown language. */
	const char *langs[] = { m->lang != NULL ? m->lang : "",
	    conf_languages[conf->list.language], "en", NULL };
	struct tmpl_vars *own = NULL;
	struct tmpl_mail tm = { 0 };
	int rc;

	if (vars == NULL)
		vars = own = tmpl_vars_new();
	mailout_list_vars(conf, vars, m->unsubscribe);
	rc = tmpl_mail_render(tmpl_dir(conf->list.templates), langs,
	    m->template, vars, &tm, err);
	if (rc == BOTU_OK)
		rc = queue_composed(db, conf, m, &tm, err);
	tmpl_mail_clear(&tm);
	tmpl_vars_free(own);
	return rc;
}

int
mailout_check(const struct botu_conf *conf, int *n, char err[BOTU_ERRLEN])
{
	const char *dir = tmpl_dir(conf->list.templates);

	*n = 0;
	for (int l = 0; l < LANG_COUNT; l++)
		for (size_t i = 0; mailout_templates[i] != NULL; i++) {
			const char *langs[] = { conf_languages[l], NULL };
			struct tmpl_vars *vars = tmpl_vars_new();
			struct tmpl_mail m = { 0 };
			int rc;

			err[0] = '\0';
			mailout_list_vars(conf, vars, NULL);
			rc = tmpl_mail_render(dir, langs, mailout_templates[i],
			    vars, &m, err);
			if (rc == BOTU_OK && strcmp(m.lang, conf_languages[l]))
				snprintf(err, BOTU_ERRLEN, "%s/%s/%s.txt is "
				    "missing", dir, conf_languages[l],
				    mailout_templates[i]);
			tmpl_mail_clear(&m);
			tmpl_vars_free(vars);
			if (rc != BOTU_OK || err[0] != '\0')
				return BOTU_EDATA;
			(*n)++;
		}
	return BOTU_OK;
}

/* The member's own List-Unsubscribe address, while they are a member. */
static char *
unsub_of(struct botu_db *db, const struct botu_conf *conf, int64_t id)
{
	struct member m;
	char *a = NULL;

	if (id == 0 || members_get_id(db, id, &m) != 1)
		return NULL;
	if (m.unsub_token[0] != '\0' && strcmp(m.status, "active") == 0)
		a = addr_token(conf, ADDR_UNSUBSCRIBE, m.unsub_token);
	member_clear(&m);
	return a;
}

static const char *
or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? s : NULL;
}

int
mailout_person(struct botu_db *db, const struct botu_conf *conf,
    const struct mailout_person *p, struct tmpl_vars *vars,
    char err[BOTU_ERRLEN])
{
	char *unsub = unsub_of(db, conf, p->member_id);
	struct mailout mo = {
		.to = p->to,
		.to_name = or_null(p->to_name),
		.lang = p->lang,
		.template = p->tmpl,
		.kind = p->kind,
		.member_id = p->member_id,
		.in_reply_to = or_null(p->in_reply_to),
		.references = or_null(p->references),
		.reply_to = p->reply_to,
		.unsubscribe = unsub,
		.auto_submitted = p->auto_generated ? COMPOSE_AUTO_GENERATED :
		    COMPOSE_AUTO_REPLIED,
		.ordered = 1,
	};
	int rc;

	rc = mailout_queue(db, conf, &mo, vars, err);
	free(unsub);
	return rc;
}
