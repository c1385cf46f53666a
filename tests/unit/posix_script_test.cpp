// #! interpreter lines (kernel/posix/script.h), as Linux's binfmt_script reads them.
#include <gtest/gtest.h>

#include <string>

#include "kernel/posix/script.h"

using namespace lamina;
using namespace lamina::posix;

namespace {

Result<void> parse(const std::string& text, ScriptLine& line) {
    return parse_script_line(reinterpret_cast<const uint8_t*>(text.data()), text.size(), line);
}

}  // namespace

TEST(PosixScript, InterpreterAndOneArgument) {
    ScriptLine l;
    ASSERT_TRUE(parse("#!/bin/sh\necho hi\n", l).is_ok());
    EXPECT_STREQ(l.interpreter, "/bin/sh");
    EXPECT_FALSE(l.has_argument);
    ASSERT_TRUE(parse("#! /bin/sh -e  x \t\r\nrest", l).is_ok());
    EXPECT_STREQ(l.interpreter, "/bin/sh");
    EXPECT_TRUE(l.has_argument);
    EXPECT_STREQ(l.argument, "-e  x");               // one argument, inner blanks kept
    ASSERT_TRUE(parse("#!/bin/awk -f", l).is_ok());  // no newline at the end
    EXPECT_STREQ(l.interpreter, "/bin/awk");
    EXPECT_STREQ(l.argument, "-f");
}

TEST(PosixScript, RefusesWhatIsNoScript) {
    ScriptLine l;
    EXPECT_EQ(parse("#!\n", l).error().code(), Errno::NoExec);
    EXPECT_EQ(parse("#!   \t\n/bin/sh", l).error().code(), Errno::NoExec);
    EXPECT_EQ(parse("#", l).error().code(), Errno::NoExec);
    EXPECT_EQ(parse("\x7f"
                    "ELF",
                    l)
                  .error()
                  .code(),
              Errno::NoExec);
    EXPECT_FALSE(is_script(reinterpret_cast<const uint8_t*>("#"), 1));
}

TEST(PosixScript, OnlyTheFirst256BytesCount) {
    ScriptLine l;
    // The interpreter fits, the argument is cut at the limit (Linux keeps what it read).
    std::string cut = "#!/bin/sh " + std::string(400, 'a') + "\n";
    ASSERT_TRUE(parse(cut, l).is_ok());
    EXPECT_STREQ(l.interpreter, "/bin/sh");
    EXPECT_EQ(std::string(l.argument).size(), 256u - 10u);
    // An interpreter that does not fit is refused rather than truncated.
    std::string too_long = "#!/" + std::string(300, 'x') + "\n";
    EXPECT_EQ(parse(too_long, l).error().code(), Errno::NoExec);
}
