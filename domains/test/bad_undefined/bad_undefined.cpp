// A domain that calls a kernel function it was not given: with --no-undefined it cannot link
// (the build checks that it fails), and linked without that flag the loader refuses it, naming
// the symbol (tests/unit/domain_loader_test.cpp). Not a package of any image.
#include "domains/lib/domain.h"

// Declared, never defined: kernel functions are not reachable by symbol from a domain.
extern "C" [[gnu::visibility("default")]] int64_t kernel_secret_function(int64_t);

int64_t domain_main(const lamina_domain_caps&) { return kernel_secret_function(1); }
