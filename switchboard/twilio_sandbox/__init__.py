"""A local double of Twilio's REST API, run in its own process by `switchboard serve`.

It answers the call updates Switchboard makes (a hang-up, a transfer's `<Dial>`),
outbound call creation and text messages (the link a caller asked for) the way Twilio
does, and keeps a list of every request it
received that tests read at `GET /sandbox/requests`. A call it is asked to create is
placed: the leads file (`--leads`, `SWITCHBOARD_SANDBOX_LEADS`; `lead_book`) says who
answers, and `lead_phone` plays that lead against the application. Start it with
`python -m switchboard.twilio_sandbox --port 0 --port-file PATH --account-sid AC…
--auth-token …` and point the twilio client at `http://127.0.0.1:PORT`.
"""

from switchboard.twilio_sandbox.rest_api import Sandbox, create_app

__all__ = ["Sandbox", "create_app"]
