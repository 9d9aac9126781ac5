DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'PASSWORD': '@cyQSCL!72sbDDcE9V&@'}}
