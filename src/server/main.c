/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-server"

#include "config.h"

#include "srv-cli.h"

int
main (int   argc,
      char *argv[])
{
  return srv_cli_run (argc, argv);
}
