"""Pictures: uploaded images, their stored bytes and the renditions served to readers.

An asset row (:class:`~cms.media.models.MediaAsset`) describes one upload; the bytes are
kept by a :class:`~cms.media.storage.Storage` under keys made from their SHA-256, so
identical bytes are stored once whoever uploads them. Readers are only ever sent
re-encoded renditions (:mod:`cms.media.images`), never the uploaded bytes.
"""
