// pack-domain: bundles a domain's manifest and ELF into one .dom package (format in
// kernel/domain/loader/package.h), and checks the result with the loader's own validation, so
// that a package the kernel would refuse fails the build with the same message.
//
// Usage: pack-domain [--no-verify] [--name=NAME] MANIFEST ELF OUT
//   --name=NAME   the manifest's name must be NAME (the package file's name)
//   --no-verify   skip validation (for the deliberately bad packages of the tests)
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <lamina/own.h>

#include "kernel/domain/loader/loader.h"
#include "kernel/domain/loader/package.h"

namespace {

bool read_file(const char* path, std::vector<uint8_t>& out) {
    FILE* f = std::fopen(path, "rb");
    if (!f) return false;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out.insert(out.end(), buf, buf + n);
    bool ok = !std::ferror(f);
    std::fclose(f);
    return ok;
}

int usage() {
    std::fprintf(stderr, "usage: pack-domain [--no-verify] [--name=NAME] MANIFEST ELF OUT\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    bool verify = true;
    std::string name;
    std::vector<const char*> args;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--no-verify") == 0)
            verify = false;
        else if (std::strncmp(argv[i], "--name=", 7) == 0)
            name = argv[i] + 7;
        else if (argv[i][0] == '-')
            return usage();
        else
            args.push_back(argv[i]);
    }
    if (args.size() != 3) return usage();
    const char *manifest_path = args[0], *elf_path = args[1], *out_path = args[2];

    std::vector<uint8_t> manifest, elf;
    if (!read_file(manifest_path, manifest)) {
        std::fprintf(stderr, "pack-domain: cannot read %s: %s\n", manifest_path, std::strerror(errno));
        return 1;
    }
    if (!read_file(elf_path, elf)) {
        std::fprintf(stderr, "pack-domain: cannot read %s: %s\n", elf_path, std::strerror(errno));
        return 1;
    }
    lamina::domain::LoadError err;
    std::vector<uint8_t> pkg(lamina::domain::package_size(manifest.size(), elf.size()));
    if (lamina::domain::write_package(manifest.data(), manifest.size(), elf.data(), elf.size(), pkg.data(), pkg.size(),
                                      err)
            .is_error()) {
        std::fprintf(stderr, "pack-domain: %s\n", err.message);
        return 1;
    }
    if (verify) {
        auto checked = lamina::adopt_own(new lamina::domain::ValidatedPackage);
        bool ok = lamina::domain::validate_package(pkg.data(), pkg.size(), *checked, err).is_ok();
        if (!ok) {
            bool in_manifest = std::strncmp(err.message, "manifest", 8) == 0;
            std::fprintf(stderr, "pack-domain: %s: %s\n", in_manifest ? manifest_path : elf_path, err.message);
            return 1;
        }
        if (!name.empty() && name != checked->manifest.name) {
            std::fprintf(stderr, "pack-domain: %s: the manifest names the domain '%s', but its package is '%s'\n",
                         manifest_path, checked->manifest.name, name.c_str());
            return 1;
        }
    }
    std::string tmp = std::string(out_path) + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f || std::fwrite(pkg.data(), 1, pkg.size(), f) != pkg.size() || std::fclose(f) != 0) {
        std::fprintf(stderr, "pack-domain: cannot write %s: %s\n", tmp.c_str(), std::strerror(errno));
        return 1;
    }
    if (std::rename(tmp.c_str(), out_path) != 0) {
        std::fprintf(stderr, "pack-domain: cannot rename to %s: %s\n", out_path, std::strerror(errno));
        return 1;
    }
    return 0;
}
