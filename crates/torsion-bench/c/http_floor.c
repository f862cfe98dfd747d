/*
 * The ceiling for the HTTP benchmark (BENCHMARKS.md, "HTTP"): an epoll loop that answers
 * every read with the same bytes hello_server and hyper_hello send, parsing nothing. It is
 * not a server (a request split across two reads gets two answers); it shows what the
 * kernel and wrk cost on this machine when the server's own work is close to zero, so a
 * ratio to hyper above this one's cannot be had here.
 *
 *   cc -O2 -o target/release/http_floor crates/torsion-bench/c/http_floor.c
 *   target/release/http_floor [PORT]     # prints "listening on 127.0.0.1:PORT"
 *
 * http_hello compiles and runs it itself when a C compiler is present.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <errno.h>

static int errno_is_fatal(void) { return errno != EAGAIN && errno != EINTR; }

/* Same length and fields as the Rust servers' answer; the Date is fixed. */
static const char RESPONSE[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: text/plain\r\n"
    "Date: Sun, 22 Nov 2026 22:00:00 GMT\r\n"
    "Content-Length: 13\r\n"
    "\r\n"
    "Hello, world!";

static volatile sig_atomic_t stop;
static void on_term(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 0;
    int one = 1;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (listener < 0) { perror("socket"); return 1; }
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
    if (listen(listener, 1024) < 0) { perror("listen"); return 1; }
    socklen_t len = sizeof addr;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    struct sigaction sa = {0};
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, listener, &ev);
    printf("listening on 127.0.0.1:%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    struct epoll_event events[256];
    static char buf[65536];
    while (!stop) {
        int n = epoll_wait(ep, events, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                int c;
                while ((c = accept4(listener, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct epoll_event e = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r == 0 || (r < 0 && errno_is_fatal())) {
                close(fd);
            } else if (r > 0 && write(fd, RESPONSE, sizeof RESPONSE - 1) < 0) {
                close(fd);
            }
        }
    }
    return 0;
}
