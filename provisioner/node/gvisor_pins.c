/* gvisor_pins.c - the built-in table of gVisor release digests (see gvisor_pins.h). */
#include "provisioner/node/gvisor_pins.h"

#include <string.h>

#include "provisioner/node/render.h"

/* Newest first.  Every digest below was cross-checked against independent
 * public pins of the same release, arch and artifact; a release or arch
 * for which only one source could be found is absent on purpose (it keeps
 * the release's own .sha512 and validate warns). */
static const struct sf_gvisor_pin pins[] = {
	{"20261005.0", "x86_64", "gvisor.tar.zstd",
	 "27fed731b432d6a39d908956623fd273979fda66b3ccf4b9c12413ea417c516e18a9dc3cced403fb28efe495d64dce4251f51cf8c4d9f4a72f9833bd96b6bb35",
	 NULL},
	{"20260928.0", "x86_64", "gvisor.tar.zstd",
	 "4ce35ca83aef7f96b06cde668e0b23aa98b05aa1829508e974196c2a1e02786c95f5bf79315fd7ddcfd88fe7a00f083ed8053e25eff7673d28d5256440caae8b",
	 NULL},
	{"20260817.0", "x86_64", "runsc",
	 "84936438d583ec976800f464e75a83e1515f0890b451b9b4db219c4472b54ca9b106a6772ee683f1e64cce2128871d7637b14d800591f8451b8137f6c39fb2ef",
	 "b60d1c418b841ab046951cc7a91f490a221198fbe81ec55dc364432578fddd44e97063793ce6651be397af2f64ec47170dff77a45db277819c3fb08fec9f3ced"},
	{"20260817.0", "aarch64", "runsc",
	 "6394fd161a4af0dc9a2c29f75c3016d05275a55744f124e12023fa7666a9f161c68d6ce3803ad49205c6a7b5bee0ad2ccf48edff340db344fdafec678c788aa4",
	 "a7c0147f635938225e41c9660b95ba5235121a142c11830794e2a52b472783547e2b089bdba4f1344d30f65aeee651b377a1cafadd262a134f5e1ac10c6bf4bb"},
	{"20260810", "x86_64", "gvisor.tar.bz2",
	 "3de91138cda15682c11807387f6ecad9e7c8932262018a2813277e1b4efa03efe33b0a948e148c6b1ccfe7345bfab5d5e0d072519505465751273898bae19c62",
	 NULL},
	{"20260810", "aarch64", "gvisor.tar.bz2",
	 "dc21bdc7a4f52d049f4da74a337fc7437b2ac1465c7479816a852120a8cff5292d72ae78bc4c581f857836bc9a56a1ba18ad687e6bef13d03fdd670d6f2071f7",
	 NULL},
};

const struct sf_gvisor_pin *sf_gvisor_pin_find(const char *release, const char *arch)
{
	const char *a = sf_gvisor_arch(arch);
	if (!release || !a)
		return NULL;
	for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++)
		if (!strcmp(pins[i].release, release) && !strcmp(pins[i].arch, a))
			return &pins[i];
	return NULL;
}

size_t sf_gvisor_pins(const struct sf_gvisor_pin **rows)
{
	*rows = pins;
	return sizeof pins / sizeof pins[0];
}

int sf_gvisor_artifact_valid(const char *name)
{
	return name && (!strcmp(name, "gvisor.tar.bz2") || !strcmp(name, "gvisor.tar.zstd") || !strcmp(name, "runsc"));
}
