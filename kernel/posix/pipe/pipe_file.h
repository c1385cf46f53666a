// lamina:portable
// The two ends of a pipe as open file descriptions: each end counts as a reader or a writer
// for as long as its FileObject lives, i.e. until the last descriptor sharing it is closed
// (dup and fork share it), which is what makes EOF and EPIPE appear at the right moment.
#pragma once

#include <lamina/result.h>

#include "kernel/posix/fd/fd_table.h"
#include "kernel/posix/pipe/pipe.h"

namespace lamina::posix {

class PipeEnd final : public FileObject {
public:
    PipeEnd(RefPtr<Pipe> pipe, bool writer);
    ~PipeEnd() override;
    Pipe& pipe() const { return *pipe_; }
    bool is_writer() const { return writer_; }

private:
    RefPtr<Pipe> pipe_;
    bool writer_;
};

struct PipePair {
    RefPtr<OpenFile> read_end;
    RefPtr<OpenFile> write_end;
};

// pipe2(2): flags may hold O_NONBLOCK (both ends' status flags) and O_CLOEXEC (which the
// caller applies to the descriptors); anything else is EINVAL.
Result<PipePair> make_pipe(uint32_t flags);

// read(2)/write(2) on an end, with the description's O_NONBLOCK; EBADF for the wrong end.
Result<PipeResult> pipe_read(OpenFile& f, void* dst, size_t n);
Result<PipeResult> pipe_write(OpenFile& f, const void* src, size_t n);

}  // namespace lamina::posix
