"""What a caller's line means: BANT facts, meeting times, names and conversational acts.

Pure Python, no I/O. `caller_line.understand` reads a whole line; the other modules
are the readers it is built on, one per fact or act, over `text`'s normalised form.
"""
