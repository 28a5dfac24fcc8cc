/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The entity descriptor of PROTOCOL.md §4.4 item 1, validated with
 * cpns_entity_descriptor_validate(). @services are "NAME:PROTO[:PORT]";
 * NULL with a CPNS_ERROR_BAD_REQUEST error naming what is wrong. */
JsonObject         *pne_entity_new                   (const char        *name,
                                                      const char        *entity_type,
                                                      const char        *manufacturer,
                                                      const char        *model,
                                                      const char        *serial,
                                                      const char * const *services,
                                                      GError           **error);

G_END_DECLS
