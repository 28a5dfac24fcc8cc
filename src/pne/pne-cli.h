/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* cpns-pne's command line: pair, connect, status, forget, simulate.
 * Returns the process exit code (pne-exit.h). */
int  pne_cli_main  (int    argc,
                    char **argv);

G_END_DECLS
