/* Identity files: OpenZiti's identity JSON plus a "tpmid" object.
 *
 * {
 *   "ztAPI": "...",                              (OpenZiti, optional)
 *   "id": { "cert": "pem:...", "key": "...", "ca": "pem:..." },
 *   "tpmid": { "version": 1, "name": "web", "alg": "ecdsa-p256",
 *              "auth": "none" | "pin",
 *              "key": "-----BEGIN TSS2 PRIVATE KEY-----...",
 *              "handle": "0x81000010",            (optional)
 *              "parent_name": "000b...",          (hex)
 *              "public_key": "-----BEGIN PUBLIC KEY-----...",
 *              "ssh_cert": "ecdsa-sha2-nistp256-cert-v01@openssh.com AAAA... ", (optional)
 *              "ssh": false,                      (optional: not listed to ssh)
 *              "pkcs11_id": "01a2",               (optional: the CKA_ID a PKCS#11
 *                                                  client gave at C_GenerateKeyPair, hex)
 *              "allowed_uids": [1001], "allowed_gids": [100] } (optional)
 * }
 *
 * The parsed document is kept: every field not named above, at any level,
 * survives identity_serialize(). */
#ifndef TPMID_STORE_IDENTITY_H
#define TPMID_STORE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/curve.h"
#include "common/limits.h"

#define IDENTITY_FILE_MAX (1024 * 1024)
#define IDENTITY_VERSION 1

struct identity {
	char name[TPMID_NAME_MAX + 1];
	enum tpmid_curve alg;    /* "alg": curve_info.name */
	int pin;                 /* auth == "pin" */
	char *key_pem;           /* TSS2 PRIVATE KEY PEM; NULL if handle-only */
	uint32_t handle;         /* persistent handle, 0 if none */
	uint8_t *parent_name;    /* binary, NULL if unknown */
	size_t parent_name_len;
	char *public_key_pem;    /* SubjectPublicKeyInfo PEM */
	char *cert_pem;          /* id.cert without the "pem:" prefix, or NULL */
	char *ca_pem;            /* id.ca without the "pem:" prefix, or NULL */
	char *id_key;            /* id.key verbatim (e.g. a pkcs11: URI), or NULL */
	char *ssh_cert;          /* OpenSSH certificate line, or NULL */
	int ssh_hidden;          /* "ssh": false: not in ssh-agent's listing */
	uint8_t *pkcs11_id;      /* "pkcs11_id": CKA_ID chosen by a PKCS#11 client */
	size_t pkcs11_id_len;    /* 1..TPMID_P11_ID_MAX, 0 when none */
	uid_t *allowed_uids;
	size_t n_allowed_uids;
	gid_t *allowed_gids;
	size_t n_allowed_gids;
	void *doc;               /* json_object*: the whole parsed document */
};

/* 1 if `name` is a valid identity name: 1..64 chars of [A-Za-z0-9._-],
 * not starting with '.' or '-'. */
int identity_name_valid(const char *name);

/* A fresh identity with an empty document. */
int identity_new(const char *name, struct identity **ret);
/* Parse JSON text. `name` is the expected name (from the file name); a
 * mismatching tpmid.name is TPMID_E_FORMAT. Detail says what is wrong
 * (e.g. "tpmid.alg: expected \"ecdsa-p256\" or \"ecdsa-p384\""). */
int identity_parse(const char *json, size_t len, const char *name, struct identity **ret);
/* Write the struct's fields into the document and render it (pretty,
 * trailing newline). Unknown fields are preserved. */
int identity_serialize(const struct identity *id, char **ret_json);
void identity_free(struct identity *id);

/* Setters that own a copy of their argument (NULL clears). */
int identity_set_str(char **field, const char *value);

#endif
