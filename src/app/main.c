/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <locale.h>

#include <glib/gi18n.h>

#include "gw-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GwApplication) app = NULL;

  setlocale (LC_ALL, "");
  /* GnuTLS writes every TLS secret to the file this names: never. */
  g_unsetenv ("SSLKEYLOGFILE");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("PN Gateway"));
  app = gw_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
