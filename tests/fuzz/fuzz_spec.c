/* libFuzzer target: the YAML spec loader (libyaml events → position-carrying
 * nodes, duplicate keys, aliases, nesting limits). Must never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "provisioner/spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	sf_spec_load_buffer(&set, "fuzz.yaml", (const char *)data, size, &d);
	for (size_t i = 0; i < set.n; i++) {
		(void)sf_node_get(set.docs[i].root, "metadata");
		(void)sf_node_str(sf_node_get(set.docs[i].root, "kind"));
	}
	sf_diags_release(&d);
	sf_specset_release(&set);
	return 0;
}
