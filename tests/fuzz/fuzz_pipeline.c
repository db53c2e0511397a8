/* libFuzzer target: the whole offline validation pipeline a spec goes
 * through in `secfaas validate` and `plan`: YAML -> nodes (spec.c) ->
 * envelope and kind schemas with their domain checks (kinds.c, the kinds'
 * schemas) -> lowering into resource instances, references and the
 * dependency order (config.c, the kinds' lowering, node rendering, manifest
 * templates) -> the configuration as a plan file holds it and back.  Must
 * never crash, leak, or accept a document and then fail to lower it
 * without a diagnostic.  Seeds: examples/ and tests/fuzz/seeds/fuzz_pipeline. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "provisioner/engine/config.h"
#include "provisioner/kinds/kinds.h"
#include "provisioner/spec/spec.h"
#include "resources/types.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* a Cluster without metadata.region takes the environment's */
	setenv("AWS_REGION", "eu-west-1", 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_specset set = SF_SPECSET_INIT;
	struct sf_diags d = SF_DIAGS_INIT;
	struct sf_config cfg = SF_CONFIG_INIT;
	if (sf_spec_load_buffer(&set, "fuzz.yaml", (const char *)data, size, &d) == 0 &&
	    sf_config_build(&cfg, &set, NULL, &d) == 0) {
		/* what a saved plan keeps of it must read back */
		json_t *j = sf_config_to_json(&cfg);
		struct sf_config back = SF_CONFIG_INIT;
		struct sf_err err = SF_ERR_INIT;
		if (sf_config_from_json(&back, j, sf_types(), &err) < 0) {
			fprintf(stderr, "a valid configuration did not read back: %s\n", err.msg);
			abort();
		}
		sf_config_release(&back);
		json_decref(j);
	}
	FILE *null = fopen("/dev/null", "w");
	if (null) {
		sf_diags_print(&d, null, 1);
		fclose(null);
	}
	sf_config_release(&cfg);
	sf_diags_release(&d);
	sf_specset_release(&set);
	return 0;
}
