DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'PASSWORD': 'Qc7@IZYnukE9qpg!6UDl'}}
