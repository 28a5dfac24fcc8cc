/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The 4-byte big-endian length prefix of CPNS-1 (§4.1). */
#define CPNS_FRAME_HEADER_LEN 4

/*
 * CpnsFrameReader: incremental. Feed it whatever the transport delivered;
 * it never buffers more than one header plus one body of at most the
 * current limit, whatever the peer sends. A length of 0 or over the limit
 * is a TOO_LARGE error as soon as the header is complete (the body is not
 * read).
 */
typedef struct _CpnsFrameReader CpnsFrameReader;

CpnsFrameReader *cpns_frame_reader_new      (gsize             max_body);
void             cpns_frame_reader_free     (CpnsFrameReader  *reader);
void             cpns_frame_reader_set_max  (CpnsFrameReader  *reader,
                                             gsize             max_body);
/* Consumes bytes from @data up to the end of the next complete frame and
 * sets *consumed; call cpns_frame_reader_pop() and feed the rest again.
 * Returns FALSE (and consumes nothing more) on a bad length. */
gboolean         cpns_frame_reader_feed     (CpnsFrameReader  *reader,
                                             const guint8     *data,
                                             gsize             len,
                                             gsize            *consumed,
                                             GError          **error);
/* The complete frame body, or NULL when none is complete yet. */
GBytes          *cpns_frame_reader_pop      (CpnsFrameReader  *reader);
/* TRUE while some bytes of a frame are buffered. */
gboolean         cpns_frame_reader_is_partial (CpnsFrameReader *reader);

/* Length prefix + body. */
GBytes          *cpns_frame_encode          (GBytes           *body);

/*
 * CpnsFrameWriter: a queue of encoded frames with a partial-write offset,
 * for a non-blocking transport.
 */
typedef struct _CpnsFrameWriter CpnsFrameWriter;

CpnsFrameWriter *cpns_frame_writer_new      (void);
void             cpns_frame_writer_free     (CpnsFrameWriter  *writer);
void             cpns_frame_writer_push     (CpnsFrameWriter  *writer,
                                             GBytes           *body);
/* The bytes still to be written of the head frame; NULL if empty. */
const guint8    *cpns_frame_writer_peek     (CpnsFrameWriter  *writer,
                                             gsize            *len);
void             cpns_frame_writer_advance  (CpnsFrameWriter  *writer,
                                             gsize             written);
gboolean         cpns_frame_writer_is_empty (CpnsFrameWriter  *writer);
gsize            cpns_frame_writer_get_queued_bytes (CpnsFrameWriter *writer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CpnsFrameReader, cpns_frame_reader_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (CpnsFrameWriter, cpns_frame_writer_free)

G_END_DECLS
