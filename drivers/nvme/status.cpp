// lamina:portable
// Decoding of NVMe completion status (NVMe 1.4 section 4.6.1) into messages and errnos.
#include "drivers/nvme/block.h"
#include "drivers/nvme/nvme_spec.h"

namespace lamina::nvme {

const char* status_type_name(uint8_t sct) {
    switch (sct) {
        case spec::sct::GENERIC:
            return "generic";
        case spec::sct::COMMAND_SPECIFIC:
            return "command specific";
        case spec::sct::MEDIA:
            return "media error";
        case spec::sct::PATH:
            return "path";
        case spec::sct::VENDOR:
            return "vendor specific";
        default:
            return "reserved status type";
    }
}

const char* status_message(uint8_t sct, uint8_t sc) {
    namespace c = spec::sc;
    if (sct == spec::sct::GENERIC) {
        switch (sc) {
            case c::SUCCESS:
                return "success";
            case c::INVALID_OPCODE:
                return "invalid command opcode";
            case c::INVALID_FIELD:
                return "invalid field in command";
            case c::CID_CONFLICT:
                return "command ID conflict";
            case c::DATA_TRANSFER_ERROR:
                return "data transfer error";
            case c::ABORTED_POWER_LOSS:
                return "aborted: power loss";
            case c::INTERNAL_ERROR:
                return "internal error";
            case c::ABORT_REQUESTED:
                return "aborted by request";
            case c::ABORTED_SQ_DELETION:
                return "aborted: submission queue deleted";
            case c::INVALID_NAMESPACE:
                return "invalid namespace or format";
            case c::COMMAND_SEQUENCE_ERROR:
                return "command sequence error";
            case c::INVALID_SGL_DESCRIPTOR:
                return "invalid SGL descriptor";
            case c::INVALID_PRP_OFFSET:
                return "invalid PRP offset";
            case c::LBA_OUT_OF_RANGE:
                return "LBA out of range";
            case c::CAPACITY_EXCEEDED:
                return "capacity exceeded";
            case c::NAMESPACE_NOT_READY:
                return "namespace not ready";
            default:
                return "unknown generic status";
        }
    }
    if (sct == spec::sct::COMMAND_SPECIFIC) {
        switch (sc) {
            case c::CQ_INVALID:
                return "completion queue invalid";
            case c::INVALID_QUEUE_ID:
                return "invalid queue identifier";
            case c::INVALID_QUEUE_SIZE:
                return "invalid queue size";
            case c::INVALID_INTERRUPT_VECTOR:
                return "invalid interrupt vector";
            case c::INVALID_QUEUE_DELETION:
                return "invalid queue deletion";
            case c::FEATURE_NOT_SAVEABLE:
                return "feature not saveable";
            case c::ATTEMPTED_WRITE_TO_READ_ONLY:
                return "write to read-only range";
            default:
                return "unknown command-specific status";
        }
    }
    if (sct == spec::sct::MEDIA) {
        switch (sc) {
            case c::WRITE_FAULT:
                return "write fault";
            case c::UNRECOVERED_READ_ERROR:
                return "unrecovered read error";
            case c::ACCESS_DENIED:
                return "access denied";
            default:
                return "unknown media or data integrity error";
        }
    }
    return status_type_name(sct);
}

const char* Status::message() const {
    switch (kind) {
        case Kind::Ok:
            return "success";
        case Kind::ControllerFailed:
            return "controller failed";
        case Kind::Device:
            break;
    }
    return status_message(sct, sc);
}

namespace {

struct Appender {
    char* buf;
    size_t size;
    size_t len = 0;
    void put(char c) {
        if (len + 1 < size) buf[len++] = c;
    }
    void put(const char* s) {
        while (*s) put(*s++);
    }
    void hex(uint8_t v) {
        static const char digits[] = "0123456789abcdef";
        put("0x");
        put(digits[v >> 4]);
        put(digits[v & 0xf]);
    }
    void finish() {
        if (size) buf[len < size ? len : size - 1] = '\0';
    }
};

}  // namespace

const char* Status::format(char* buf, size_t size) const {
    Appender a{buf, size};
    if (kind == Kind::Device) {
        a.put(status_type_name(sct));
        a.put(" status ");
        a.hex(sc);
        a.put(": ");
        a.put(message());
        if (dnr) a.put(" (do not retry)");
    } else {
        a.put(message());
    }
    a.finish();
    return buf;
}

Error Status::error() const {
    switch (kind) {
        case Kind::Ok:
            return Errno::None;
        case Kind::ControllerFailed:
            return CONTROLLER_FAILED;
        case Kind::Device:
            break;
    }
    if (sct == spec::sct::GENERIC) {
        switch (sc) {
            case spec::sc::INVALID_NAMESPACE:
            case spec::sc::INVALID_FIELD:
            case spec::sc::INVALID_OPCODE:
            case spec::sc::INVALID_PRP_OFFSET:
                return Errno::Inval;
            case spec::sc::LBA_OUT_OF_RANGE:
                return Errno::Range;
            case spec::sc::CAPACITY_EXCEEDED:
                return Errno::NoSpc;
            default:
                break;
        }
    }
    if (sct == spec::sct::COMMAND_SPECIFIC && sc == spec::sc::ATTEMPTED_WRITE_TO_READ_ONLY) return Errno::ROFS;
    if (sct == spec::sct::MEDIA && sc == spec::sc::ACCESS_DENIED) return Errno::Acces;
    return Errno::IO;
}

}  // namespace lamina::nvme
