"""Cron schedules that start flow executions (FnF's CreateSchedule).

``cron`` parses expressions and computes ticks (pure); ``spec`` is what a caller asks for;
``service`` stores schedules; ``scheduler`` fires their ticks. Import the module you need:
the client and manifests use ``spec`` without loading the server's side.
"""
