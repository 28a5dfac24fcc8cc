/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flood-socket.h"

int
flood_connect_from (guint32 source,
                    guint16 port)
{
  struct sockaddr_in src = { 0 }, dst = { 0 };
  int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

  if (fd < 0)
    return -1;
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl (source);
  dst.sin_family = AF_INET;
  dst.sin_port = htons (port);
  dst.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &src, sizeof src) != 0 ||
      (connect (fd, (struct sockaddr *) &dst, sizeof dst) != 0 && errno != EINPROGRESS))
    {
      close (fd);
      return -1;
    }
  return fd;
}

gboolean
flood_closed_by_peer (int fd)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  char c;
  ssize_t n;

  if (poll (&pfd, 1, 0) <= 0)
    return FALSE;
  if (pfd.revents & (POLLHUP | POLLERR))
    return TRUE;
  n = recv (fd, &c, 1, MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}
