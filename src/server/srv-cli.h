/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cpns-server's command line: returns the exit status. */
int srv_cli_run (int    argc,
                 char **argv);

G_END_DECLS
