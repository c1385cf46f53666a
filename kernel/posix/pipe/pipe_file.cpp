// lamina:portable
#include "kernel/posix/pipe/pipe_file.h"

#include <new>

namespace lamina::posix {

PipeEnd::PipeEnd(RefPtr<Pipe> pipe, bool writer) : pipe_(static_cast<RefPtr<Pipe>&&>(pipe)), writer_(writer) {
    if (writer_) pipe_->add_writer();
    else pipe_->add_reader();
}

PipeEnd::~PipeEnd() {
    if (writer_) pipe_->remove_writer();
    else pipe_->remove_reader();
}

Result<PipePair> make_pipe(uint32_t flags) {
    if (flags & ~(oflag::NonBlock | oflag::CloExec)) return Errno::Inval;
    RefPtr<Pipe> pipe = TRY(Pipe::create());
    PipeEnd* r = new (std::nothrow) PipeEnd(pipe, false);
    if (!r) return Errno::NoMem;
    RefPtr<FileObject> rend(r);
    PipeEnd* w = new (std::nothrow) PipeEnd(pipe, true);
    if (!w) return Errno::NoMem;
    RefPtr<FileObject> wend(w);
    uint32_t status = flags & oflag::NonBlock;
    PipePair p;
    p.read_end = TRY(OpenFile::create(static_cast<RefPtr<FileObject>&&>(rend), oflag::ReadOnly | status));
    p.write_end = TRY(OpenFile::create(static_cast<RefPtr<FileObject>&&>(wend), oflag::WriteOnly | status));
    return p;
}

Result<PipeResult> pipe_read(OpenFile& f, void* dst, size_t n) {
    auto* end = static_cast<PipeEnd*>(f.object());
    if (!f.readable() || end->is_writer()) return Errno::BadF;
    return end->pipe().read(dst, n, f.nonblocking());
}

Result<PipeResult> pipe_write(OpenFile& f, const void* src, size_t n) {
    auto* end = static_cast<PipeEnd*>(f.object());
    if (!f.writable() || !end->is_writer()) return Errno::BadF;
    return end->pipe().write(src, n, f.nonblocking());
}

}  // namespace lamina::posix
