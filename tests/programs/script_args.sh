#!/bin/args  one arg 
# The interpreter line above is all that matters: execve runs /bin/args with "one arg".
