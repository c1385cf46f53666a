// The virtio core (drivers/virtio, portable and host-tested) compiled into this package:
// configure builds a domain from the .cpp files of its own directory, one wrapper per core file.
#include "drivers/virtio/transport.cpp"
