/* tss/tcti.c: why a TCTI gave us no TPM, in words a user can act on.
 *
 * errno after Tss2_TctiLdr_Initialize() or a failed first command is not
 * the TCTI's answer: the loader tries several library names (ENOENT from
 * dlopen) and the TCTIs call things that leave errno set (ENOTTY). So
 * "device:/dev/null: no such file or directory" was printed for a device
 * that exists. What we say comes from our own checks instead: is the TCTI
 * module installed (Tss2_TctiLdr_GetInfo), for the device TCTI does the
 * path exist, is it a character device we may open; errno is believed
 * only for the socket errors the network TCTIs (swtpm, mssim) can meet. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "common/err.h"
#include "tss/tpm-private.h"

static int
socket_errno(int e)
{
	switch (e) {
	case ECONNREFUSED: case ECONNRESET: case ECONNABORTED: case ETIMEDOUT:
	case EHOSTUNREACH: case ENETUNREACH: case EADDRNOTAVAIL: case EPIPE:
		return 1;
	default:
		return 0;
	}
}

/* What is wrong with device path `p` (which the device TCTI could not use
 * as a TPM), into why[n]. */
static void
device_why(const char *p, TSS2_RC rc, char *why, size_t n)
{
	struct stat st;
	int fd;

	if (stat(p, &st) < 0) {
		snprintf(why, n, "%s: %s", p, strerror(errno));
		return;
	}
	if (!S_ISCHR(st.st_mode)) {
		snprintf(why, n, "%s is not a character device (a TPM is /dev/tpmrm0 or "
		    "/dev/tpm0)", p);
		return;
	}
	if ((fd = open(p, O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0) {
		snprintf(why, n, "%s: %s%s", p, strerror(errno), errno == EACCES ?
		    " (add yourself to the device's group, usually tss)" : "");
		return;
	}
	close(fd);
	snprintf(why, n, "%s opens but did not answer as a TPM (%s)", p, Tss2_RC_Decode(rc));
}

int
tss_no_tpm(const char *conf, TSS2_RC rc, int err_no)
{
	TSS2_TCTI_INFO *info = NULL;
	char name[64], why[512];
	const char *colon = strchr(conf, ':'), *arg = colon ? colon + 1 : "";
	size_t len = colon ? (size_t)(colon - conf) : strlen(conf);

	snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1),
	    conf);
	if (*name != '\0' && Tss2_TctiLdr_GetInfo(name, &info) != TSS2_RC_SUCCESS)
		snprintf(why, sizeof(why), "no TCTI module '%s' is installed (as "
		    "libtss2-tcti-%s.so.0)", name, name);
	else if (strcmp(name, "device") == 0 && *arg != '\0')
		device_why(arg, rc, why, sizeof(why));
	else if (strcmp(name, "tabrmd") == 0)
		snprintf(why, sizeof(why), "tpm2-abrmd does not answer on D-Bus (is it "
		    "running, with this bus name?): %s", Tss2_RC_Decode(rc));
	else if (socket_errno(err_no))
		snprintf(why, sizeof(why), "%s", strerror(err_no));
	else
		snprintf(why, sizeof(why), "%s", Tss2_RC_Decode(rc));
	if (info != NULL)
		Tss2_TctiLdr_FreeInfo(&info);
	/* Lower-case the first letter: it continues a sentence. */
	if (why[0] >= 'A' && why[0] <= 'Z')
		why[0] = (char)(why[0] - 'A' + 'a');
	return tpmid_seterr(TPMID_E_NOTPM, "no TPM at '%s': %s; set --tcti or TPMID_TCTI", conf,
	    why);
}
