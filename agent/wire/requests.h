/* tpmid's requests on the agent socket: one line each, the one place that
 * says what a request is called, what it carries, what it answers, who may
 * send it and how long a client waits for it. The codec (codec.c), the
 * engine's handlers (agent/engine/request.c), the daemon's access checks
 * and the client's timeouts are all generated from or driven by this
 * list; PROTOCOL.md section 2.3 documents it for people.
 *
 *   X(ID, id, "name@tpmid", WIRE_FIELDS(request fields, in wire order),
 *     reply, access, flags)
 *
 * Adding a request: one line here, its handler req_<id>() in
 * agent/engine/request.c (the build fails until it exists), the engine
 * function it calls, PROTOCOL.md, and the CLI command that sends it. Never
 * reorder or change a field list: agents and clients of other versions
 * parse by it. */
#ifndef TPMID_WIRE_REQUESTS_H
#define TPMID_WIRE_REQUESTS_H

#define WIRE_REQUESTS(X) \
	X(LIST, list, "list@tpmid", WIRE_FIELDS(WF_END), \
	    WIRE_REPLY_LIST, WIRE_ACCESS_ANY, 0) \
	X(INFO, info, "info@tpmid", WIRE_FIELDS(WF_NAME), \
	    WIRE_REPLY_INFO, WIRE_ACCESS_IDENTITY, 0) \
	X(IDENTITY, identity, "identity@tpmid", WIRE_FIELDS(WF_NAME), \
	    WIRE_REPLY_TEXT, WIRE_ACCESS_IDENTITY, 0) \
	X(SIGN_DIGEST, sign_digest, "sign-digest@tpmid", WIRE_FIELDS(WF_NAME, WF_DATA, WF_PIN), \
	    WIRE_REPLY_DER, WIRE_ACCESS_IDENTITY, WIRE_USES_KEY | WIRE_USES_TPM) \
	X(SIGN, sign, "sign@tpmid", WIRE_FIELDS(WF_NAME, WF_DATA, WF_PIN), \
	    WIRE_REPLY_DER, WIRE_ACCESS_IDENTITY, WIRE_USES_KEY | WIRE_USES_TPM) \
	X(KEYGEN, keygen, "keygen@tpmid", \
	    WIRE_FIELDS(WF_NAME, WF_ALG, WF_PERSIST, WF_HANDLE, WF_PIN), \
	    WIRE_REPLY_INFO, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_TPM) \
	X(KEYGEN_PKCS11, keygen_pkcs11, "keygen-pkcs11@tpmid", \
	    WIRE_FIELDS(WF_NAME, WF_ALG, WF_DATA, WF_PIN), \
	    WIRE_REPLY_INFO, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_TPM) \
	X(IMPORT, import, "import@tpmid", WIRE_FIELDS(WF_NAME, WF_DATA, WF_PIN), \
	    WIRE_REPLY_INFO, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_TPM) \
	X(DELETE, delete, "delete@tpmid", WIRE_FIELDS(WF_NAME), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, WIRE_USES_TPM) \
	X(UNLOCK, unlock, "unlock@tpmid", WIRE_FIELDS(WF_NAME, WF_PIN, WF_TIMEOUT), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_KEY | WIRE_USES_TPM) \
	X(LOCK, lock, "lock@tpmid", WIRE_FIELDS(WF_NAME_OPT), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, 0) \
	X(STATUS, status, "status@tpmid", WIRE_FIELDS(WF_END), \
	    WIRE_REPLY_STATUS, WIRE_ACCESS_ANY, 0) \
	X(SET_CERT, set_cert, "set-cert@tpmid", WIRE_FIELDS(WF_NAME, WF_CERT, WF_CA_OPT), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, 0) \
	X(SET_SSH_CERT, set_ssh_cert, "set-ssh-cert@tpmid", WIRE_FIELDS(WF_NAME, WF_LINE), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, 0) \
	X(EXPORT, export, "export@tpmid", WIRE_FIELDS(WF_NAME), \
	    WIRE_REPLY_TEXT, WIRE_ACCESS_IDENTITY, 0) \
	X(SET_SSH, set_ssh, "set-ssh@tpmid", WIRE_FIELDS(WF_NAME, WF_FLAG), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, 0) \
	X(PASSWD, passwd, "passwd@tpmid", WIRE_FIELDS(WF_NAME, WF_PIN, WF_NEWPIN), \
	    WIRE_REPLY_NONE, WIRE_ACCESS_OWNER, WIRE_SLOW | WIRE_USES_KEY | WIRE_USES_TPM)

#endif
