"""Code shared by the tests (fixtures live in the conftest.py files).

- ``repo``: the repository root, subprocess environment and runner, the tiny project copy.
- ``augment``: augment settings mirroring the defaults, a tiny split, folder comparison, mask checks.
- ``training_data``: tiny learnable image sets and training sections.
- ``evaluation``: a tiny model and checkpoint, images, manifests, a history file.
- ``stage_deps``: which library files a stage script imports (for the dvc.yaml deps checks).
- ``data_hashes``: the data-stage probe and hash record (also a command-line tool).
- ``sshd``, ``sftp_gate``: a throwaway OpenSSH server for the SSH-remote tests.
"""
