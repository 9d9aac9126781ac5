"""Cloud and orchestrator audit logs as rule event sources: AWS CloudTrail (files, directories, S3, SQS),
Google Cloud Audit Logs and Azure Activity Logs (files), and Kubernetes audit log files.

``parsers`` turn provider records into :class:`~containerguard.model.Event` s with Falco plugin field names
(cloudtrail.py, gcp.py, azure.py); reader.py reads bytes defensively; aws.py reads S3 and SQS; sources.py
names the sources (``KIND:LOCATION``) and runs them; health.py counts what each read and skipped.
"""
