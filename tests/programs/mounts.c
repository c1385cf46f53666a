// mount(2), umount2(2) and statfs(2) in Lamina (they need root, so this one does not run on the
// host): a tmpfs on /mnt, busy while a file in it is open, gone after umount.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static void show(const char* what, int r) { printf("%s: %d %s\n", what, r, r < 0 ? strerror(errno) : ""); }

static void print_mounts(void) {
    char buf[1024] = {0};
    int fd = open("/proc/mounts", O_RDONLY);
    read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s", buf);
}

int main(void) {
    show("mount tmpfs on /mnt", mount("none", "/mnt", "tmpfs", 0, NULL));
    print_mounts();
    struct statfs sf;
    show("statfs /mnt", statfs("/mnt", &sf));
    printf("tmpfs magic: %d\n", sf.f_type == 0x01021994);
    statfs("/proc", &sf);
    printf("proc magic: %d\n", sf.f_type == 0x9fa0);
    int fd = open("/mnt/file", O_RDWR | O_CREAT, 0644);
    write(fd, "data", 4);
    show("umount while a file is open", umount("/mnt"));
    close(fd);
    show("chdir /mnt", chdir("/mnt"));
    show("umount while it is the cwd", umount("/mnt"));
    chdir("/");
    show("umount", umount("/mnt"));
    show("file gone with it", access("/mnt/file", F_OK));
    show("umount a plain directory", umount("/mnt"));
    show("mount an unknown type", mount("none", "/mnt", "nosuchfs", 0, NULL));
    show("mount on a missing directory", mount("none", "/missing", "tmpfs", 0, NULL));
    show("mount proc again on /mnt", mount("proc", "/mnt", "proc", 0, NULL));
    show("its self link", access("/mnt/self", F_OK));
    show("umount it", umount("/mnt"));
    print_mounts();
    return 0;
}
