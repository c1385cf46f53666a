// A large static program for bench/linux-guest's exec workload: 16 MiB of initialized read-only
// data in the file, of which it reads one byte, so that what exec costs for a big image (mapping
// it on demand, or reading and copying all of it) dominates what the program does.
#define BLOB_SIZE (16 << 20)

__attribute__((used)) static const unsigned char blob[BLOB_SIZE] = {1};

int main(int argc, char** argv) {
    (void)argv;
    // argc keeps the read from being folded away at compile time.
    return blob[(unsigned)(argc - 1) % BLOB_SIZE] == 1 ? 0 : 1;
}
