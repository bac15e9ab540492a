/* libFuzzer target for the identity file parser (store/identity.c).
 *
 * An identity that parses must serialize, and the serialized text must
 * parse and serialize to itself: a file we accept is a file we can rewrite
 * without losing or inventing anything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/identity.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct identity *id = NULL, *id2 = NULL;
	char *out = NULL, *out2 = NULL;

	if (identity_parse((const char *)data, size, NULL, &id) != 0)
		return 0;
	if (identity_serialize(id, &out) != 0)
		abort();
	if (identity_parse(out, strlen(out), id->name, &id2) != 0)
		abort();
	if (identity_serialize(id2, &out2) != 0 || strcmp(out, out2) != 0)
		abort();
	identity_free(id);
	identity_free(id2);
	free(out);
	free(out2);
	return 0;
}
