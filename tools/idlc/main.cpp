// idlc command line: idlc [-I DIR]... -o OUT.h [--depfile OUT.d] FILE.idl
// Imports ("import NAME;") are looked up as NAME.idl in the -I directories, then next to FILE.
// On an error: one line FILE:LINE: error: MESSAGE on stderr, exit status 1, no output written.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tools/idlc/idl.h"

namespace {

std::optional<std::string> read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool write(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary);
        if (!out || !(out << text) || !out.flush()) return false;
    }
    return std::rename(tmp.c_str(), path.c_str()) == 0;
}

int usage() {
    std::cerr << "usage: idlc [-I DIR]... -o OUT.h [--depfile OUT.d] FILE.idl\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> dirs;
    std::string out, depfile, input;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if ((a == "-I" || a == "-o" || a == "--depfile") && i + 1 < argc) {
            std::string v = argv[++i];
            (a == "-I" ? dirs.emplace_back() : a == "-o" ? out : depfile) = v;
        } else if (a.size() > 2 && a.rfind("-I", 0) == 0) {
            dirs.push_back(a.substr(2));
        } else if (!a.empty() && a[0] == '-') {
            return usage();
        } else if (input.empty()) {
            input = a;
        } else {
            return usage();
        }
    }
    if (input.empty() || out.empty()) return usage();
    std::optional<std::string> text = read(input);
    if (!text) {
        std::cerr << "idlc: cannot read " << input << "\n";
        return 1;
    }
    size_t slash = input.find_last_of('/');
    dirs.push_back(slash == std::string::npos ? "." : input.substr(0, slash));
    idlc::Loader loader = [&](const std::string& module) -> std::optional<idlc::Source> {
        for (auto& d : dirs) {
            std::string path = d + "/" + module + ".idl";
            if (auto t = read(path)) return idlc::Source{path, *t};
        }
        return std::nullopt;
    };
    idlc::Output result = idlc::compile(input, *text, loader);
    if (!result.ok) {
        for (auto& e : result.errors) std::cerr << e.text() << "\n";
        return 1;
    }
    if (!write(out, result.header)) {
        std::cerr << "idlc: cannot write " << out << "\n";
        return 1;
    }
    if (!depfile.empty()) {
        std::string d = out + ":";
        for (auto& dep : result.dependencies) d += " " + dep;
        if (!write(depfile, d + "\n")) {
            std::cerr << "idlc: cannot write " << depfile << "\n";
            return 1;
        }
    }
    return 0;
}
