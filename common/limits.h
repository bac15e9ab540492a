/* Limits that more than one room must agree on: one definition each.
 * (Limits private to one file stay there, next to the code they bound.) */
#ifndef TPMID_LIMITS_H
#define TPMID_LIMITS_H

/* Identity names: 1..64 bytes of [A-Za-z0-9._-], not starting with '.' or
 * '-' (store/identity.c identity_name_valid). Also the file name. */
#define TPMID_NAME_MAX 64

/* A PIN is the key's authValue, which is at most the size of the digest
 * of its nameAlg (TPM 2.0 Part 1 section 19.6.5; tpmid keys use SHA-256). */
#define TPMID_PIN_MAX 32

/* Passphrases that never reach the TPM (OpenSSH private keys, the
 * ssh-agent LOCK passphrase). */
#define TPMID_PASSPHRASE_MAX 1024

/* A CKA_ID a PKCS#11 client chose for a key it generated (tpmid.pkcs11_id);
 * PKCS#11 sets no limit, real clients use 1..20 bytes. */
#define TPMID_P11_ID_MAX 64

/* Persistent handles for keys (TPM 2.0 Part 2 section 7: persistent
 * objects live in 0x81xxxxxx). 0x81000001 is the conventional place of the
 * storage root key (tpmid srk --persist), so keys start above it. */
#define TPMID_PERSIST_FIRST 0x81000010u
#define TPMID_PERSIST_LAST 0x81FFFFFFu

#endif
