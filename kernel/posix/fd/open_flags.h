// lamina:portable
// Linux x86-64 open(2)/fcntl(2) constants, named without the C macros' spelling so that host
// builds can include <fcntl.h> alongside.
#pragma once

#include <stdint.h>

namespace lamina::posix::oflag {

inline constexpr uint32_t ReadOnly = 0;
inline constexpr uint32_t WriteOnly = 01;
inline constexpr uint32_t ReadWrite = 02;
inline constexpr uint32_t AccMode = 03;
inline constexpr uint32_t Creat = 0100;
inline constexpr uint32_t Excl = 0200;
inline constexpr uint32_t NoCtty = 0400;
inline constexpr uint32_t Trunc = 01000;
inline constexpr uint32_t Append = 02000;
inline constexpr uint32_t NonBlock = 04000;
inline constexpr uint32_t DSync = 010000;
inline constexpr uint32_t Async = 020000;  // FASYNC
inline constexpr uint32_t Directory = 0200000;
inline constexpr uint32_t NoFollow = 0400000;
inline constexpr uint32_t CloExec = 02000000;
inline constexpr uint32_t Path = 010000000;

}  // namespace lamina::posix::oflag

namespace lamina::posix::fcntl_cmd {

inline constexpr int DupFd = 0;
inline constexpr int GetFd = 1;
inline constexpr int SetFd = 2;
inline constexpr int GetFl = 3;
inline constexpr int SetFl = 4;
inline constexpr int SetOwn = 8;
inline constexpr int GetOwn = 9;
inline constexpr int DupFdCloExec = 1030;
inline constexpr int FdCloExec = 1;  // the F_GETFD/F_SETFD bit

}  // namespace lamina::posix::fcntl_cmd
