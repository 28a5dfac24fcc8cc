/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-gateway"

#include "config.h"

#include <glib/gi18n.h>

#include "gw-format.h"

char *
gw_format_code (guint32 code)
{
  code %= 1000000;
  return g_strdup_printf ("%03u %03u", code / 1000, code % 1000);
}

char *
gw_format_remaining (gint64 seconds)
{
  if (seconds < 0)
    seconds = 0;
  return g_strdup_printf ("%d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

char *
gw_format_ago (gint64 then_us,
               gint64 now_us)
{
  gint64 s = (now_us - then_us) / G_USEC_PER_SEC;

  if (then_us <= 0)
    return g_strdup (_("never"));
  if (s < 1)
    return g_strdup (_("just now"));
  if (s < 60)
    /* Translators: "heard 5 s ago" */
    return g_strdup_printf (_("%d s ago"), (int) s);
  if (s < 3600)
    return g_strdup_printf (_("%d min ago"), (int) (s / 60));
  return g_strdup_printf (_("%d h ago"), (int) (s / 3600));
}

char *
gw_format_duration (gint64 duration_us)
{
  double s = (double) duration_us / G_USEC_PER_SEC;

  if (duration_us < 0)
    return g_strdup ("");
  if (s < 10.0)
    return g_strdup_printf (_("%.2f s"), s);
  if (s < 120.0)
    return g_strdup_printf (_("%.0f s"), s);
  return g_strdup_printf (_("%.0f min"), s / 60.0);
}

char *
gw_format_relative_unix (gint64 then_s,
                         gint64 now_s)
{
  gint64 d = now_s - then_s;

  if (then_s <= 0)
    return g_strdup (_("never"));
  if (d < 60)
    return g_strdup (_("now"));
  if (d < 3600)
    return g_strdup_printf (_("%d min"), (int) (d / 60));
  if (d < 86400)
    return g_strdup_printf (_("%d h"), (int) (d / 3600));
  return g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%d day", "%d days", (gulong) (d / 86400)),
                          (int) (d / 86400));
}

char *
gw_format_clock_unix (gint64 unix_s)
{
  g_autoptr(GDateTime) dt = NULL;
  g_autoptr(GDateTime) now = NULL;

  if (unix_s <= 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_local (unix_s);
  now = g_date_time_new_now_local ();
  if (dt == NULL)
    return g_strdup ("");
  if (g_date_time_get_year (dt) == g_date_time_get_year (now) &&
      g_date_time_get_day_of_year (dt) == g_date_time_get_day_of_year (now))
    return g_date_time_format (dt, "%H:%M");
  return g_date_time_format (dt, "%Y-%m-%d %H:%M");
}

char *
gw_format_clock_us (gint64 unix_us)
{
  g_autoptr(GDateTime) dt = NULL;

  if (unix_us <= 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_local (unix_us / G_USEC_PER_SEC);
  if (dt == NULL)
    return g_strdup ("");
  return g_date_time_format (dt, "%H:%M:%S");
}

char *
gw_format_short_id (const char *id)
{
  const char *dash;
  gsize len;

  if (id == NULL)
    return g_strdup ("");
  len = strlen (id);
  dash = strchr (id, '-');
  if (dash == NULL || len < 16)
    return g_strdup (id);
  return g_strdup_printf ("%.*s…%s", (int) (dash - id + 5), id, id + len - 4);
}

/* The entity_types of PROTOCOL.md §4.4: the name people read and the
 * icon shown with it. The cpns-* icons are the app's own (data/icons, in
 * its GResource under /io/github/cpns/Gateway/icons), the others are the
 * Adwaita theme's. */
static const struct
{
  const char *type;
  const char *name;
  const char *icon;
} device_types[] = {
  { "sensor", NC_("device type", "Sensor"), "cpns-sensor-symbolic" },
  { "actuator", NC_("device type", "Actuator"), "cpns-actuator-symbolic" },
  { "phone", NC_("device type", "Phone"), "phone-symbolic" },
  { "computer", NC_("device type", "Computer"), "computer-symbolic" },
  { "wearable", NC_("device type", "Wearable"), "cpns-wearable-symbolic" },
  { "speaker", NC_("device type", "Speaker"), "audio-speakers-symbolic" },
  { "display", NC_("device type", "Display"), "video-display-symbolic" },
  { "camera", NC_("device type", "Camera"), "camera-web-symbolic" },
  { "other", NC_("device type", "Other"), GW_FORMAT_TYPE_ICON_FALLBACK },
};

static int
device_type_index (const char *entity_type)
{
  if (entity_type != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (device_types); i++)
      if (strcmp (entity_type, device_types[i].type) == 0)
        return (int) i;
  return -1;
}

const char *
gw_format_type_icon (const char *entity_type)
{
  int i = device_type_index (entity_type);

  return i >= 0 ? device_types[i].icon : GW_FORMAT_TYPE_ICON_FALLBACK;
}

const char *
gw_format_type_name (const char *entity_type)
{
  int i;

  if (entity_type == NULL || *entity_type == '\0')
    return C_("device type", "Device");
  i = device_type_index (entity_type);
  if (i >= 0)
    return g_dpgettext2 (GETTEXT_PACKAGE, "device type", device_types[i].name);
  return entity_type;
}

const char *
gw_format_entity_state (GwEntityState state)
{
  switch (state)
    {
    case GW_ENTITY_PAIRING: return _("Pairing");
    case GW_ENTITY_REGISTERED: return _("Registered");
    case GW_ENTITY_CONNECTING: return _("Connecting");
    case GW_ENTITY_WAITING: return _("Waiting");
    case GW_ENTITY_CONNECTED: return _("Connected");
    case GW_ENTITY_DISCONNECTED: return _("Disconnected");
    case GW_ENTITY_REVOKED: return _("Revoked");
    case GW_ENTITY_BLOCKED: return _("Blocked");
    default: return _("Unknown");
    }
}

const char *
gw_format_entity_state_icon (GwEntityState state)
{
  switch (state)
    {
    case GW_ENTITY_PAIRING:
    case GW_ENTITY_CONNECTING: return "emblem-synchronizing-symbolic";
    case GW_ENTITY_REGISTERED: return "emblem-default-symbolic";
    case GW_ENTITY_WAITING: return "appointment-soon-symbolic";
    case GW_ENTITY_CONNECTED: return "network-transmit-receive-symbolic";
    case GW_ENTITY_DISCONNECTED: return "network-offline-symbolic";
    case GW_ENTITY_REVOKED: return "action-unavailable-symbolic";
    case GW_ENTITY_BLOCKED: return "action-unavailable-symbolic";
    default: return "dialog-question-symbolic";
    }
}

const char *
gw_format_step_title (GwStep step)
{
  switch (step)
    {
    case GW_STEP_1: return _("Server session");
    case GW_STEP_2: return _("Paired, code confirmed");
    case GW_STEP_3A: return _("Device already had an ID and key?");
    case GW_STEP_3BD: return _("ID requested and assigned");
    case GW_STEP_3E: return _("Key assigned");
    case GW_STEP_4A: return _("Device asked to connect");
    case GW_STEP_4B: return _("Gateway asked the server");
    case GW_STEP_4C: return _("Server and device authenticated");
    case GW_STEP_4DF: return _("Policy decision");
    case GW_STEP_4G: return _("Session key shared");
    case GW_STEP_5A: return _("Inventory updated");
    case GW_STEP_5B: return _("Device told setup is complete");
    case GW_STEP_LAST:
    default: return "";
    }
}

const char *
gw_format_step_short (GwStep step)
{
  static const char *names[] = { "1", "2", "3a", "3b–d", "3e", "4a", "4b", "4c", "4d–f", "4g", "5a", "5b" };

  if ((guint) step < G_N_ELEMENTS (names))
    return names[step];
  return "";
}

const char *
gw_format_outcome (GwStepOutcome outcome)
{
  switch (outcome)
    {
    case GW_STEP_RUNNING: return _("Running");
    case GW_STEP_DONE: return _("Done");
    case GW_STEP_FAILED: return _("Failed");
    case GW_STEP_SKIPPED: return _("Skipped");
    default: return "";
    }
}

const char *
gw_format_flow_kind (GwFlowKind kind)
{
  switch (kind)
    {
    case GW_FLOW_PAIRING: return _("Pairing");
    case GW_FLOW_CONNECTION: return _("Connection");
    case GW_FLOW_RESUME: return _("Resume");
    case GW_FLOW_REKEY: return _("Re-key");
    case GW_FLOW_REMOVE: return _("Removal");
    default: return "";
    }
}

char *
gw_format_capitalize (const char *text)
{
  gunichar first;
  char buf[8];
  int len;

  if (text == NULL || *text == '\0')
    return g_strdup ("");
  first = g_unichar_totitle (g_utf8_get_char (text));
  len = g_unichar_to_utf8 (first, buf);
  return g_strdup_printf ("%.*s%s", len, buf, g_utf8_next_char (text));
}
