/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "cpns-pne"

#include "config.h"

#include <stdio.h>

#include "cpns-error.h"
#include "pne-output.h"

static PneOutputFormat output_format = PNE_OUTPUT_TEXT;

void
pne_output_set_format (PneOutputFormat format)
{
  output_format = format;
}

PneOutputFormat
pne_output_get_format (void)
{
  return output_format;
}

void
pne_output_object (JsonObject *object)
{
  g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), object);
  g_autofree char *line = json_to_string (node, FALSE);

  fputs (line, stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
pne_output_step (int         pne_index,
                 const char *pne_name,
                 const char *step,
                 const char *message,
                 JsonObject *details)
{
  if (output_format == PNE_OUTPUT_JSON)
    {
      g_autoptr(JsonObject) object = json_object_new ();

      if (pne_index >= 0)
        json_object_set_int_member (object, "pne", pne_index);
      if (pne_name != NULL)
        json_object_set_string_member (object, "name", pne_name);
      json_object_set_string_member (object, "step", step);
      json_object_set_string_member (object, "message", message);
      if (details != NULL)
        {
          JsonObjectIter iter;
          const char *member;
          JsonNode *value;

          json_object_iter_init (&iter, details);
          while (json_object_iter_next (&iter, &member, &value))
            if (!json_object_has_member (object, member))
              json_object_set_member (object, member, json_node_copy (value));
        }
      pne_output_object (object);
      return;
    }

  if (pne_index >= 0)
    printf ("[%d %s] %s\n", pne_index, pne_name != NULL ? pne_name : "", message);
  else
    printf ("%s\n", message);
  fflush (stdout);
}

void
pne_output_error (int           pne_index,
                  const char   *pne_name,
                  const GError *error,
                  int           exit_code)
{
  if (output_format == PNE_OUTPUT_JSON)
    {
      g_autoptr(JsonObject) object = json_object_new ();
      const char *code = NULL;

      if (error->domain == CPNS_ERROR)
        code = cpns_error_code_to_string (error->code);
      if (pne_index >= 0)
        json_object_set_int_member (object, "pne", pne_index);
      if (pne_name != NULL)
        json_object_set_string_member (object, "name", pne_name);
      json_object_set_string_member (object, "step", "failed");
      json_object_set_string_member (object, "code", code != NULL ? code : "internal");
      json_object_set_string_member (object, "message", error->message);
      json_object_set_int_member (object, "exit_code", exit_code);
      pne_output_object (object);
    }
  if (pne_index >= 0)
    fprintf (stderr, "cpns-pne: [%d %s] %s\n", pne_index, pne_name != NULL ? pne_name : "",
             error->message);
  else
    fprintf (stderr, "cpns-pne: %s\n", error->message);
}
