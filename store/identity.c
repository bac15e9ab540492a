/* Identity files: OpenZiti's identity JSON (ztAPI, id.cert/key/ca) plus a
 * "tpmid" object (DESIGN.md, "Identity file"). The parsed json_object is
 * kept in the struct so that a rewrite only touches the fields we own and
 * every other member, at any level, survives. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/err.h"
#include "common/util.h"
#include "store/identity.h"
#include "store/keyfile.h"

#define PEM_SCHEME "pem:"
/* Persistent object handles (TPM 2.0 Part 2, section 7.2: TPM_HT_PERSISTENT
 * is 0x81; the owner and platform ranges share the first byte). */
#define HANDLE_PERSISTENT_FIRST 0x81000000u
#define HANDLE_PERSISTENT_LAST 0x81ffffffu
/* Deep nesting buys an attacker stack, not us anything. */
#define JSON_MAX_DEPTH 32

int
identity_name_valid(const char *name)
{
	size_t i, n;

	if (name == NULL)
		return 0;
	n = strnlen(name, TPMID_NAME_MAX + 1);
	if (n == 0 || n > TPMID_NAME_MAX || name[0] == '.' || name[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(isascii(c) && isalnum(c)) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

int
identity_set_str(char **field, const char *value)
{
	char *copy = NULL;

	if (value != NULL && (copy = strdup(value)) == NULL)
		return TPMID_E_NOMEM;
	free(*field);
	*field = copy;
	return 0;
}

void
identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	free(id->key_pem);
	free(id->parent_name);
	free(id->pkcs11_id);
	free(id->public_key_pem);
	free(id->cert_pem);
	free(id->ca_pem);
	free(id->id_key);
	free(id->ssh_cert);
	free(id->allowed_uids);
	free(id->allowed_gids);
	json_object_put(id->doc);
	free(id);
}

int
identity_new(const char *name, struct identity **ret)
{
	struct identity *id;

	*ret = NULL;
	if (!identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL,
		    "invalid identity name \"%.80s\": use 1-%d of A-Z a-z 0-9 . _ -, "
		    "not starting with '.' or '-'", name != NULL ? name : "", TPMID_NAME_MAX);
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return TPMID_E_NOMEM;
	if ((id->doc = json_object_new_object()) == NULL) {
		free(id);
		return TPMID_E_NOMEM;
	}
	memcpy(id->name, name, strlen(name) + 1);
	id->alg = CURVE_P256;
	*ret = id;
	return 0;
}

/* --- parsing ------------------------------------------------------------ */

/* Line and column (both 1-based) of byte `off` in `s`, for messages that a
 * person can find in an editor. */
static void
text_position(const char *s, size_t off, size_t *line, size_t *col)
{
	size_t i;

	*line = 1;
	*col = 1;
	for (i = 0; i < off; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else
			(*col)++;
	}
}

static int
parse_json(const char *json, size_t len, json_object **ret)
{
	json_tokener *tok = NULL;
	json_object *doc = NULL;
	enum json_tokener_error jerr;
	size_t end, line, col;
	const char *nul;
	int r;

	*ret = NULL;
	if ((nul = memchr(json, '\0', len)) != NULL) {
		text_position(json, (size_t)(nul - json), &line, &col);
		return tpmid_seterr(TPMID_E_FORMAT, "NUL byte at line %zu column %zu", line, col);
	}
	if ((tok = json_tokener_new_ex(JSON_MAX_DEPTH)) == NULL)
		return TPMID_E_NOMEM;
	/* RFC 8259 only: no trailing commas, comments or single quotes. */
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	doc = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (end > len)
		end = len;
	if (doc == NULL) {
		if (jerr == json_tokener_continue || jerr == json_tokener_success) {
			r = tpmid_seterr(TPMID_E_FORMAT, "invalid JSON: unexpected end of input");
			goto out;
		}
		text_position(json, end, &line, &col);
		r = tpmid_seterr(TPMID_E_FORMAT, "invalid JSON at line %zu column %zu: %s", line, col,
		    json_tokener_error_desc(jerr));
		goto out;
	}
	for (; end < len; end++) {
		if (!isspace((unsigned char)json[end])) {
			text_position(json, end, &line, &col);
			r = tpmid_seterr(TPMID_E_FORMAT,
			    "invalid JSON at line %zu column %zu: trailing data after the document",
			    line, col);
			goto out;
		}
	}
	*ret = doc;
	doc = NULL;
	r = 0;
out:
	json_object_put(doc);
	json_tokener_free(tok);
	return r;
}

/* A string member of `obj`. Absent: 0 with *ret NULL (or an error when
 * required). JSON null counts as absent, since Go's encoding/json (the
 * OpenZiti tools) writes null for an unset optional field. Present but not
 * a string, or with an embedded NUL (a "\u0000" escape), is a format error
 * naming "<where>.<key>". */
static int
get_string(json_object *obj, const char *where, const char *key, int required,
    const char **ret)
{
	json_object *v;
	const char *s;

	*ret = NULL;
	if (!json_object_object_get_ex(obj, key, &v) || v == NULL) {
		if (required)
			return tpmid_seterr(TPMID_E_FORMAT, "%s.%s: missing", where, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return tpmid_seterr(TPMID_E_FORMAT, "%s.%s: expected a string", where, key);
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return tpmid_seterr(TPMID_E_FORMAT, "%s.%s: contains a NUL character", where, key);
	*ret = s;
	return 0;
}

static int
dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (s != NULL && (*ret = strdup(s)) == NULL)
		return TPMID_E_NOMEM;
	return 0;
}

/* "0x81000010": a hex string, because that is how tpm2-tools and the TPM
 * specification write handles; a JSON number would read as decimal. */
static int
parse_handle(const char *s, uint32_t *ret)
{
	size_t i, n;
	uint32_t v = 0;

	*ret = 0;
	if (strncmp(s, "0x", 2) != 0 && strncmp(s, "0X", 2) != 0)
		goto bad;
	n = strlen(s + 2);
	if (n == 0 || n > 8)
		goto bad;
	for (i = 2; s[i] != '\0'; i++) {
		if (!isxdigit((unsigned char)s[i]))
			goto bad;
	}
	if (parse_u32(s, &v) < 0)
		goto bad;
	if (v < HANDLE_PERSISTENT_FIRST || v > HANDLE_PERSISTENT_LAST)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "tpmid.handle: \"%.16s\" is not a persistent handle (0x81000000-0x81ffffff)", s);
	*ret = v;
	return 0;
bad:
	return tpmid_seterr(TPMID_E_FORMAT,
	    "tpmid.handle: \"%.16s\" is not a hex handle like \"0x81000010\"", s);
}

/* An array of uids or gids: non-negative integers that fit the type and
 * are not (uid_t)-1, which chown() and friends read as "no change". */
static int
get_id_array(json_object *obj, const char *key, uint32_t **ret, size_t *ret_n)
{
	json_object *arr, *v;
	uint32_t *ids = NULL;
	size_t i, n;
	int64_t x;
	int r;

	*ret = NULL;
	*ret_n = 0;
	if (!json_object_object_get_ex(obj, key, &arr) || arr == NULL)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return tpmid_seterr(TPMID_E_FORMAT, "tpmid.%s: expected an array of numbers", key);
	n = json_object_array_length(arr);
	if (n == 0)
		return 0;
	if ((ids = calloc(n, sizeof(*ids))) == NULL)
		return TPMID_E_NOMEM;
	for (i = 0; i < n; i++) {
		v = json_object_array_get_idx(arr, i);
		if (v == NULL || !json_object_is_type(v, json_type_int)) {
			r = tpmid_seterr(TPMID_E_FORMAT, "tpmid.%s[%zu]: expected an integer", key, i);
			goto out;
		}
		x = json_object_get_int64(v);
		if (x < 0 || x >= (int64_t)UINT32_MAX) {
			r = tpmid_seterr(TPMID_E_FORMAT, "tpmid.%s[%zu]: %lld is not a valid id", key,
			    i, (long long)x);
			goto out;
		}
		ids[i] = (uint32_t)x;
	}
	*ret = ids;
	*ret_n = n;
	ids = NULL;
	r = 0;
out:
	free(ids);
	return r;
}

static int
copy_ids_uid(const uint32_t *src, size_t n, uid_t **ret)
{
	size_t i;

	*ret = NULL;
	if (n == 0)
		return 0;
	if ((*ret = calloc(n, sizeof(**ret))) == NULL)
		return TPMID_E_NOMEM;
	for (i = 0; i < n; i++)
		(*ret)[i] = (uid_t)src[i];
	return 0;
}

static int
copy_ids_gid(const uint32_t *src, size_t n, gid_t **ret)
{
	size_t i;

	*ret = NULL;
	if (n == 0)
		return 0;
	if ((*ret = calloc(n, sizeof(**ret))) == NULL)
		return TPMID_E_NOMEM;
	for (i = 0; i < n; i++)
		(*ret)[i] = (gid_t)src[i];
	return 0;
}

/* OpenZiti's "id" object: cert and ca are "pem:<PEM>" or a reference to
 * elsewhere ("file://...", a pkcs11 URI); we only read the inline form and
 * leave the others to their owners. */
static int
parse_id_object(json_object *doc, struct identity *id)
{
	json_object *o;
	const char *s;
	int r;

	if (!json_object_object_get_ex(doc, "id", &o) || o == NULL)
		return 0;
	if (!json_object_is_type(o, json_type_object))
		return tpmid_seterr(TPMID_E_FORMAT, "id: expected an object");
	if ((r = get_string(o, "id", "cert", 0, &s)) < 0)
		return r;
	if (s != NULL && strncmp(s, PEM_SCHEME, strlen(PEM_SCHEME)) == 0 &&
	    (r = dup_opt(s + strlen(PEM_SCHEME), &id->cert_pem)) < 0)
		return r;
	if ((r = get_string(o, "id", "ca", 0, &s)) < 0)
		return r;
	if (s != NULL && strncmp(s, PEM_SCHEME, strlen(PEM_SCHEME)) == 0 &&
	    (r = dup_opt(s + strlen(PEM_SCHEME), &id->ca_pem)) < 0)
		return r;
	if ((r = get_string(o, "id", "key", 0, &s)) < 0 || (r = dup_opt(s, &id->id_key)) < 0)
		return r;
	return 0;
}

static int
parse_tpmid_object(json_object *t, const char *name, struct identity *id)
{
	const struct curve_info *c;
	struct keyfile *kf = NULL;
	json_object *v;
	uint32_t *ids = NULL;
	size_t n_ids = 0;
	const char *s;
	int64_t version;
	int r;

	if (!json_object_object_get_ex(t, "version", &v) || v == NULL)
		return tpmid_seterr(TPMID_E_FORMAT, "tpmid.version: missing");
	if (!json_object_is_type(v, json_type_int))
		return tpmid_seterr(TPMID_E_FORMAT, "tpmid.version: expected an integer");
	if ((version = json_object_get_int64(v)) != IDENTITY_VERSION)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "tpmid.version: unsupported version %lld (this tpmid reads version %d)",
		    (long long)version, IDENTITY_VERSION);

	if ((r = get_string(t, "tpmid", "name", 1, &s)) < 0)
		return r;
	if (!identity_name_valid(s))
		return tpmid_seterr(TPMID_E_FORMAT, "tpmid.name: \"%.80s\" is not a valid name", s);
	if (name != NULL && strcmp(s, name) != 0)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "tpmid.name: \"%s\" does not match the file name \"%.80s\"", s, name);
	memcpy(id->name, s, strlen(s) + 1);

	if ((r = get_string(t, "tpmid", "alg", 1, &s)) < 0)
		return r;
	/* Only the file's own spelling ("ecdsa-p256"), not the CLI's. */
	if ((c = curve_by_name(s)) == NULL || strcmp(c->name, s) != 0)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "tpmid.alg: expected \"ecdsa-p256\" or \"ecdsa-p384\"");
	id->alg = c->id;

	if ((r = get_string(t, "tpmid", "auth", 1, &s)) < 0)
		return r;
	if (strcmp(s, "none") == 0)
		id->pin = 0;
	else if (strcmp(s, "pin") == 0)
		id->pin = 1;
	else
		return tpmid_seterr(TPMID_E_FORMAT, "tpmid.auth: expected \"none\" or \"pin\"");

	if ((r = get_string(t, "tpmid", "key", 0, &s)) < 0)
		return r;
	if (s != NULL) {
		/* Parse it fully now so a damaged blob is reported against
		 * this file rather than at the first sign request. */
		if ((r = keyfile_parse_pem(s, strlen(s), &kf)) < 0) {
			tpmid_err_prefix("tpmid.key");
			return r;
		}
		keyfile_free(kf);
		if ((r = dup_opt(s, &id->key_pem)) < 0)
			return r;
	}

	if ((r = get_string(t, "tpmid", "handle", 0, &s)) < 0)
		return r;
	if (s != NULL && (r = parse_handle(s, &id->handle)) < 0)
		return r;
	if (id->key_pem == NULL && id->handle == 0)
		return tpmid_seterr(TPMID_E_FORMAT,
		    "tpmid: neither \"key\" nor \"handle\": the identity has no key");

	if ((r = get_string(t, "tpmid", "parent_name", 0, &s)) < 0)
		return r;
	if (s != NULL) {
		if (*s == '\0' || hex_decode(s, &id->parent_name, &id->parent_name_len) < 0)
			return tpmid_seterr(TPMID_E_FORMAT,
			    "tpmid.parent_name: expected an even number of hex digits");
	}

	if ((r = get_string(t, "tpmid", "public_key", 0, &s)) < 0 ||
	    (r = dup_opt(s, &id->public_key_pem)) < 0)
		return r;
	if ((r = get_string(t, "tpmid", "ssh_cert", 0, &s)) < 0 ||
	    (r = dup_opt(s, &id->ssh_cert)) < 0)
		return r;

	if ((r = get_string(t, "tpmid", "pkcs11_id", 0, &s)) < 0)
		return r;
	if (s != NULL && (*s == '\0' || strlen(s) > 2 * TPMID_P11_ID_MAX ||
	    hex_decode(s, &id->pkcs11_id, &id->pkcs11_id_len) < 0))
		return tpmid_seterr(TPMID_E_FORMAT, "tpmid.pkcs11_id: expected 1 to %d bytes "
		    "in hex", TPMID_P11_ID_MAX);

	if ((v = json_object_object_get(t, "ssh")) != NULL) {
		if (!json_object_is_type(v, json_type_boolean))
			return tpmid_seterr(TPMID_E_FORMAT, "tpmid.ssh: expected true or false");
		id->ssh_hidden = !json_object_get_boolean(v);
	}

	if ((r = get_id_array(t, "allowed_uids", &ids, &n_ids)) < 0)
		return r;
	r = copy_ids_uid(ids, n_ids, &id->allowed_uids);
	free(ids);
	if (r < 0)
		return r;
	id->n_allowed_uids = n_ids;
	if ((r = get_id_array(t, "allowed_gids", &ids, &n_ids)) < 0)
		return r;
	r = copy_ids_gid(ids, n_ids, &id->allowed_gids);
	free(ids);
	if (r < 0)
		return r;
	id->n_allowed_gids = n_ids;
	return 0;
}

int
identity_parse(const char *json, size_t len, const char *name, struct identity **ret)
{
	struct identity *id = NULL;
	json_object *doc = NULL, *t;
	int r;

	*ret = NULL;
	if (json == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "identity: no data");
	if (len > IDENTITY_FILE_MAX)
		return tpmid_seterr(TPMID_E_TOOBIG, "%zu bytes, larger than the %d byte limit", len,
		    IDENTITY_FILE_MAX);
	if (name != NULL && !identity_name_valid(name))
		return tpmid_seterr(TPMID_E_INVAL, "invalid identity name \"%.80s\"", name);
	if ((r = parse_json(json, len, &doc)) < 0)
		return r;
	if (!json_object_is_type(doc, json_type_object)) {
		r = tpmid_seterr(TPMID_E_FORMAT, "expected a JSON object at the top level");
		goto out;
	}
	if (!json_object_object_get_ex(doc, "tpmid", &t) || t == NULL) {
		r = tpmid_seterr(TPMID_E_FORMAT, "no \"tpmid\" object: not a tpmid identity file");
		goto out;
	}
	if (!json_object_is_type(t, json_type_object)) {
		r = tpmid_seterr(TPMID_E_FORMAT, "tpmid: expected an object");
		goto out;
	}
	if ((id = calloc(1, sizeof(*id))) == NULL) {
		r = TPMID_E_NOMEM;
		goto out;
	}
	if ((r = parse_tpmid_object(t, name, id)) < 0 || (r = parse_id_object(doc, id)) < 0)
		goto out;
	id->doc = doc;
	doc = NULL;
	*ret = id;
	id = NULL;
	r = 0;
out:
	identity_free(id);
	json_object_put(doc);
	return r;
}

/* --- serializing -------------------------------------------------------- */

/* Set `key` to `val` (taking its reference), or remove it when `val` is
 * NULL. An existing member is replaced where it stands, so the order of a
 * file a person arranged is kept. */
static int
put(json_object *obj, const char *key, json_object *val, int want)
{
	if (!want) {
		json_object_object_del(obj, key);
		return 0;
	}
	if (val == NULL)
		return TPMID_E_NOMEM;
	if (json_object_object_add(obj, key, val) != 0) {
		json_object_put(val);
		return TPMID_E_NOMEM;
	}
	return 0;
}

static int
put_str(json_object *obj, const char *key, const char *s)
{
	return put(obj, key, s != NULL ? json_object_new_string(s) : NULL, s != NULL);
}

static json_object *
new_prefixed(const char *prefix, const char *s)
{
	json_object *v;
	size_t pl = strlen(prefix), sl = strlen(s);
	char *buf;

	if ((buf = malloc(pl + sl + 1)) == NULL)
		return NULL;
	memcpy(buf, prefix, pl);
	memcpy(buf + pl, s, sl + 1);
	v = json_object_new_string_len(buf, (int)(pl + sl));
	free(buf);
	return v;
}

/* id.cert / id.ca: write "pem:<PEM>" when we have one. When we have none,
 * drop a "pem:" value (it was cleared) but keep any other scheme, which we
 * never parsed and so cannot have meant to remove. */
static int
put_pem_ref(json_object *o, const char *key, const char *pem)
{
	json_object *old;

	if (pem != NULL)
		return put(o, key, new_prefixed(PEM_SCHEME, pem), 1);
	if (json_object_object_get_ex(o, key, &old) && old != NULL &&
	    json_object_is_type(old, json_type_string) &&
	    strncmp(json_object_get_string(old), PEM_SCHEME, strlen(PEM_SCHEME)) != 0)
		return 0;
	return put(o, key, NULL, 0);
}

static json_object *
new_id_array(const uid_t *uids, const gid_t *gids, size_t n)
{
	json_object *arr;
	size_t i;
	int64_t v;

	if ((arr = json_object_new_array_ext((int)n)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		v = uids != NULL ? (int64_t)uids[i] : (int64_t)gids[i];
		if (json_object_array_add(arr, json_object_new_int64(v)) != 0) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static int
update_id_object(json_object *doc, const struct identity *id)
{
	json_object *o = NULL, *t;
	int r, created = 0;

	if (!json_object_object_get_ex(doc, "id", &o) || o == NULL) {
		if (id->cert_pem == NULL && id->ca_pem == NULL && id->id_key == NULL)
			return 0;
		if ((o = json_object_new_object()) == NULL)
			return TPMID_E_NOMEM;
		if (json_object_object_add(doc, "id", o) != 0) {
			json_object_put(o);
			return TPMID_E_NOMEM;
		}
		created = 1;
	} else if (!json_object_is_type(o, json_type_object))
		return tpmid_seterr(TPMID_E_INVAL, "id: not an object");
	if ((r = put_pem_ref(o, "cert", id->cert_pem)) < 0 ||
	    (r = put_str(o, "key", id->id_key)) < 0 ||
	    (r = put_pem_ref(o, "ca", id->ca_pem)) < 0)
		return r;
	/* OpenZiti files read "id" before our object; keep that order when
	 * "id" appears for the first time (e.g. a certificate was attached). */
	if (created && json_object_object_get_ex(doc, "tpmid", &t) && t != NULL) {
		json_object_get(t);
		json_object_object_del(doc, "tpmid");
		if (json_object_object_add(doc, "tpmid", t) != 0) {
			json_object_put(t);
			return TPMID_E_NOMEM;
		}
	}
	return 0;
}

static int
update_tpmid_object(json_object *doc, const struct identity *id)
{
	json_object *t = NULL;
	char handle[16];
	char *hex = NULL, *p11hex = NULL;
	const char *alg;
	int r;

	if (!json_object_object_get_ex(doc, "tpmid", &t) || t == NULL ||
	    !json_object_is_type(t, json_type_object)) {
		if ((t = json_object_new_object()) == NULL)
			return TPMID_E_NOMEM;
		if (json_object_object_add(doc, "tpmid", t) != 0) {
			json_object_put(t);
			return TPMID_E_NOMEM;
		}
	}
	alg = curve_name(id->alg);
	snprintf(handle, sizeof(handle), "0x%08x", (unsigned int)id->handle);
	if (id->parent_name != NULL &&
	    (hex = hex_encode(id->parent_name, id->parent_name_len)) == NULL)
		return TPMID_E_NOMEM;
	if (id->pkcs11_id_len > 0 &&
	    (p11hex = hex_encode(id->pkcs11_id, id->pkcs11_id_len)) == NULL) {
		free(hex);
		return TPMID_E_NOMEM;
	}
	if ((r = put(t, "version", json_object_new_int(IDENTITY_VERSION), 1)) < 0 ||
	    (r = put_str(t, "name", id->name)) < 0 ||
	    (r = put_str(t, "alg", alg)) < 0 ||
	    (r = put_str(t, "auth", id->pin ? "pin" : "none")) < 0 ||
	    (r = put_str(t, "key", id->key_pem)) < 0 ||
	    (r = put_str(t, "handle", id->handle != 0 ? handle : NULL)) < 0 ||
	    (r = put_str(t, "parent_name", hex)) < 0 ||
	    (r = put_str(t, "public_key", id->public_key_pem)) < 0 ||
	    (r = put_str(t, "ssh_cert", id->ssh_cert)) < 0 ||
	    (r = put_str(t, "pkcs11_id", p11hex)) < 0 ||
	    (r = put(t, "ssh", id->ssh_hidden ? json_object_new_boolean(0) : NULL,
	    id->ssh_hidden)) < 0)
		goto out;
	if ((r = put(t, "allowed_uids",
	    id->n_allowed_uids > 0 ? new_id_array(id->allowed_uids, NULL, id->n_allowed_uids) : NULL,
	    id->n_allowed_uids > 0)) < 0 ||
	    (r = put(t, "allowed_gids",
	    id->n_allowed_gids > 0 ? new_id_array(NULL, id->allowed_gids, id->n_allowed_gids) : NULL,
	    id->n_allowed_gids > 0)) < 0)
		goto out;
	r = 0;
out:
	free(hex);
	free(p11hex);
	return r;
}

/* Refuse to write what identity_parse() would refuse to read back. */
static int
check_writable(const struct identity *id)
{
	size_t i;

	if (!identity_name_valid(id->name))
		return tpmid_seterr(TPMID_E_INVAL, "invalid identity name \"%.80s\"", id->name);
	if (curve_get(id->alg) == NULL)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s': no algorithm set", id->name);
	if (id->key_pem == NULL && id->handle == 0)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s': neither a key nor a handle",
		    id->name);
	if (id->key_pem != NULL && !keyfile_is_pem(id->key_pem, strlen(id->key_pem)))
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s': key is not a TSS2 PRIVATE KEY",
		    id->name);
	if (id->handle != 0 &&
	    (id->handle < HANDLE_PERSISTENT_FIRST || id->handle > HANDLE_PERSISTENT_LAST))
		return tpmid_seterr(TPMID_E_INVAL,
		    "identity '%s': 0x%08x is not a persistent handle", id->name,
		    (unsigned int)id->handle);
	if (id->parent_name != NULL && id->parent_name_len == 0)
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s': empty parent name", id->name);
	if (id->pkcs11_id_len > TPMID_P11_ID_MAX || (id->pkcs11_id == NULL) != (id->pkcs11_id_len == 0))
		return tpmid_seterr(TPMID_E_INVAL, "identity '%s': PKCS#11 id of %zu bytes (1 to %d)",
		    id->name, id->pkcs11_id_len, TPMID_P11_ID_MAX);
	for (i = 0; i < id->n_allowed_uids; i++)
		if (id->allowed_uids[i] == (uid_t)-1)
			return tpmid_seterr(TPMID_E_INVAL, "identity '%s': invalid uid", id->name);
	for (i = 0; i < id->n_allowed_gids; i++)
		if (id->allowed_gids[i] == (gid_t)-1)
			return tpmid_seterr(TPMID_E_INVAL, "identity '%s': invalid gid", id->name);
	return 0;
}

int
identity_serialize(const struct identity *id, char **ret_json)
{
	json_object *doc;
	const char *text;
	size_t len;
	char *out;
	int r;

	*ret_json = NULL;
	if (id == NULL || id->doc == NULL ||
	    !json_object_is_type((json_object *)id->doc, json_type_object))
		return tpmid_seterr(TPMID_E_INVAL, "identity: no document");
	if ((r = check_writable(id)) < 0)
		return r;
	doc = id->doc;
	if ((r = update_tpmid_object(doc, id)) < 0 || (r = update_id_object(doc, id)) < 0)
		return r;
	/* Two-space indentation; no "\/" escapes so PEM and URLs stay
	 * readable. */
	text = json_object_to_json_string_length(doc,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE,
	    &len);
	if (text == NULL)
		return TPMID_E_NOMEM;
	if ((out = malloc(len + 2)) == NULL)
		return TPMID_E_NOMEM;
	memcpy(out, text, len);
	out[len] = '\n';
	out[len + 1] = '\0';
	*ret_json = out;
	return 0;
}
