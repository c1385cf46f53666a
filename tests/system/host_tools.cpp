#include "tests/system/host_tools.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>

#include "tests/system/qemu.h"

namespace lamina::test {

CommandResult run_command(const std::string& command) {
    CommandResult r{-1, {}};
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (!p) return r;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

ImageCopy::ImageCopy(const std::string& profile) {
    char tmpl[] = "/tmp/lamina-image-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir_ = tmpl;
    path_ = dir_ + "/" + profile + ".img";
    ok_ = run_command("cp --sparse=always '" + build_dir() + "/images/" + profile + ".img' '" + path_ + "'").status == 0;
}

ImageCopy::~ImageCopy() {
    if (!dir_.empty()) run_command("rm -rf '" + dir_ + "'");
}

std::string root_partition(const std::string& image) {
    auto r = run_command("sgdisk -i 2 '" + image + "'");
    auto at = r.output.find("First sector: ");
    if (r.status != 0 || at == std::string::npos) return {};
    return image + "?offset=" + std::to_string(std::stoull(r.output.substr(at + 14)) * 512);
}

}  // namespace lamina::test
