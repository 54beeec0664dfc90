"""Command line for booking systems, staff and scripts (SPEC §5; README, Command line).

    python starter.py directory load directory.json
    python starter.py visit book --booking-id B1 --patient-id 19121212-1212 --clinic kir \
        --reception kir-allm --start 2027-03-29T10:00:00+02:00
    python starter.py visit reschedule --booking-id B1 --start 2027-03-30T10:00:00+02:00
    python starter.py --json visit status --booking-id B1
    python starter.py invitation create invitation.json
    python starter.py invitation book --request-id R1 --booking-id B2 \
        --start 2027-05-03T09:00:00+02:00 --by patient
    python starter.py worklist --clinic kir
    python starter.py admin prepare-namespace

Bad input gets one line on stderr saying what is wrong, exit code 2, and nothing is started or changed.
"""

from entrypoints.cli import exit_now, main
from security.files import private_process

if __name__ == "__main__":
    private_process()  # every file 0600, every folder 0700 (docs/security.md, "At rest")
    try:
        exit_code = main()
    except BrokenPipeError:  # the reader went away (`| head`): not an error of ours
        exit_code = 0
    exit_now(exit_code)
