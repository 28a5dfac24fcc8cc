/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <locale.h>

#include <adwaita.h>
#include <glib/gi18n.h>

static void
on_activate (GtkApplication *app)
{
  GtkWindow *window = gtk_application_get_active_window (app);

  if (window == NULL)
    {
      GtkWidget *status = adw_status_page_new ();

      adw_status_page_set_icon_name (ADW_STATUS_PAGE (status), "network-workgroup-symbolic");
      adw_status_page_set_title (ADW_STATUS_PAGE (status), _("Connect to Your Personal Network"));
      window = GTK_WINDOW (adw_application_window_new (app));
      gtk_window_set_title (window, _("PN Gateway"));
      gtk_window_set_default_size (window, 960, 680);
      adw_application_window_set_content (ADW_APPLICATION_WINDOW (window), status);
    }
  gtk_window_present (window);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(AdwApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("PN Gateway"));
  app = adw_application_new (APP_ID, G_APPLICATION_DEFAULT_FLAGS);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), NULL);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
