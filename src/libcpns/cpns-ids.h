/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Identifier kinds of PROTOCOL.md §2. All are "prefix-" + 32 lowercase
 * hex digits except CPNS_ID_KEY ("key-" + 16). */
typedef enum
{
  CPNS_ID_PN,        /* pn-   */
  CPNS_ID_GATEWAY,   /* gw-   */
  CPNS_ID_PNE,       /* pne-  */
  CPNS_ID_KEY,       /* key-  (16 hex digits) */
  CPNS_ID_SESSION,   /* ses-  */
  CPNS_ID_AUTH,      /* auth- */
  CPNS_ID_CHALLENGE, /* chl-  */
  CPNS_ID_RULE,      /* rule- (policy rule ids; our choice, §5.6 leaves it open) */
} CpnsIdKind;

/* A fresh random identifier from gnutls_rnd (GNUTLS_RND_NONCE). */
char     *cpns_id_new            (CpnsIdKind  kind);
gboolean  cpns_id_is_valid       (CpnsIdKind  kind,
                                  const char *id);
/* user_id: 1–64 of [a-z0-9._-] */
gboolean  cpns_user_id_is_valid  (const char *user_id);

G_END_DECLS
