/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include "pne-cli.h"

int
main (int   argc,
      char *argv[])
{
  return pne_cli_main (argc, argv);
}
