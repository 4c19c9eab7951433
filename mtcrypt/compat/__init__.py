"""Drop-in replacements for the crypto extensions Telegram clients use.

* :mod:`mtcrypt.compat.tgcrypto` for Pyrogram's ``tgcrypto``
* :mod:`mtcrypt.compat.cryptg` for Telethon's ``cryptg``

Both keep the original call signatures and in-place state semantics, and
raise ``ValueError``/``TypeError`` subclasses where the originals raise (or,
for cryptg, where it silently pads or panics).
"""
