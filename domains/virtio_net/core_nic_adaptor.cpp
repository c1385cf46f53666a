// The shared NIC adaptor (drivers/nic, portable and host-tested) compiled into this package.
#include "drivers/nic/nic_adaptor.cpp"
