/* libFuzzer target: the saved-plan reader (`apply PLANFILE`, `show
 * PLANFILE`): plan file bytes -> struct sf_plan + configuration, then the
 * renderers a loaded plan goes through (human, JSON).  Plan files travel
 * between CI jobs as artifacts, so they are outside input.  Must never
 * crash or leak.  Seeds: tests/fuzz/seeds/fuzz_planfile (saved plans). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "provisioner/engine/plan.h"
#include "resources/types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_plan plan;
	struct sf_config cfg = SF_CONFIG_INIT;
	struct sf_err err = SF_ERR_INIT;
	if (sf_plan_parse(&plan, &cfg, "fuzz.plan", (const char *)data, size, sf_types(), &err) == 0) {
		FILE *null = fopen("/dev/null", "w");
		if (null) {
			sf_plan_render_human(&plan, null, 1);
			fclose(null);
		}
		json_decref(sf_plan_render_json(&plan));
		size_t *order = NULL;
		char *cycle = NULL;
		sf_config_order(&cfg, &order, &cycle);
		free(order);
		free(cycle);
	}
	sf_plan_release(&plan);
	sf_config_release(&cfg);
	return 0;
}
