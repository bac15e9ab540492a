/* Who may use an identity (PROTOCOL.md section 3): the engine's own user
 * and root always; others when the identity's file lists their uid in
 * allowed_uids or one of their groups in allowed_gids (re-read with the
 * file). */
#include "config.h"

#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/engine/internal.h"
#include "common/err.h"
#include "common/util.h"

/* Whether `uid` is a member of `want` through its supplementary groups
 * (SO_PEERCRED only carries the primary gid), looked up in the group
 * database as login would have set them. */
static int
uid_in_group(uid_t uid, gid_t primary, gid_t want)
{
	struct passwd pw, *pwp = NULL;
	gid_t small[64], *groups = small;
	int i, n = (int)ELEMENTSOF(small), found = 0;
	char buf[4096];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &pwp) != 0 || pwp == NULL)
		return 0;
	if (getgrouplist(pw.pw_name, primary, groups, &n) < 0) {
		/* n now holds the number needed. */
		if (n <= 0 || n > NGROUPS_MAX ||
		    (groups = calloc((size_t)n, sizeof(*groups))) == NULL)
			return 0;
		if (getgrouplist(pw.pw_name, primary, groups, &n) < 0)
			n = 0;
	}
	for (i = 0; i < n && !found; i++)
		found = groups[i] == want;
	if (groups != small)
		free(groups);
	return found;
}

int
engine_check_access(struct engine *e, const char *name, uid_t uid, gid_t gid)
{
	struct entry *en;
	size_t i;
	int r;

	if ((r = entry_get(e, name, &en)) != 0)
		return r;
	if (uid_owner_or_root(uid, e->owner))
		return 0;
	for (i = 0; i < en->id->n_allowed_uids; i++)
		if (en->id->allowed_uids[i] == uid)
			return 0;
	for (i = 0; i < en->id->n_allowed_gids; i++)
		if (en->id->allowed_gids[i] == gid || uid_in_group(uid, gid,
		    en->id->allowed_gids[i]))
			return 0;
	return tpmid_seterr(TPMID_E_PERM, "uid %u may not use identity '%s'", (unsigned)uid,
	    name);
}
