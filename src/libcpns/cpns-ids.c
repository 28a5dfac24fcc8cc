/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns"

#include "config.h"

#include <string.h>

#include "cpns-base64.h"
#include "cpns-crypto.h"
#include "cpns-ids.h"

static const struct
{
  const char *prefix;
  gsize hex_digits;
} kinds[] = {
  [CPNS_ID_PN] = { "pn-", 32 },
  [CPNS_ID_GATEWAY] = { "gw-", 32 },
  [CPNS_ID_PNE] = { "pne-", 32 },
  [CPNS_ID_KEY] = { "key-", 16 },
  [CPNS_ID_SESSION] = { "ses-", 32 },
  [CPNS_ID_AUTH] = { "auth-", 32 },
  [CPNS_ID_CHALLENGE] = { "chl-", 32 },
  [CPNS_ID_RULE] = { "rule-", 32 },
};

char *
cpns_id_new (CpnsIdKind kind)
{
  guint8 raw[16];
  g_autofree char *hex = NULL;

  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (kinds), NULL);

  cpns_random_nonce (raw, kinds[kind].hex_digits / 2);
  hex = cpns_hex_encode (raw, kinds[kind].hex_digits / 2);
  return g_strconcat (kinds[kind].prefix, hex, NULL);
}

gboolean
cpns_id_is_valid (CpnsIdKind  kind,
                  const char *id)
{
  gsize prefix_len;

  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (kinds), FALSE);

  if (id == NULL)
    return FALSE;
  prefix_len = strlen (kinds[kind].prefix);
  if (strncmp (id, kinds[kind].prefix, prefix_len) != 0)
    return FALSE;
  id += prefix_len;
  if (strlen (id) != kinds[kind].hex_digits)
    return FALSE;
  for (; *id; id++)
    if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
      return FALSE;
  return TRUE;
}

gboolean
cpns_user_id_is_valid (const char *user_id)
{
  gsize len;

  if (user_id == NULL)
    return FALSE;
  len = strlen (user_id);
  if (len < 1 || len > 64)
    return FALSE;
  for (const char *p = user_id; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '_' || *p == '-'))
      return FALSE;
  return TRUE;
}
