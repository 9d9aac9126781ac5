FROM opensuse/leap:15.5
RUN zypper install curl
RUN zypper -n install vim=9.0 git>=2.0 && zypper clean
RUN zypper --non-interactive in -y wget && zypper dup
RUN zypper install -y pkg-1.0 && zypper dist-upgrade -y && zypper cc -a
RUN ln -sf /bin/bash /bin/sh
ENV A=1 B=$A
ENV C=2
ENV D=$C E=${D}
ENV C=2
ENV C=3 F=$C
ARG G=1
ENV G=2 H=${G}
RUN zypper rm -y foo && zypper si bar && zypper patch && zypper --no-confirm in baz.rpm && zypper clean -a
RUN ln -s /bin/busybox /bin/sh2 && ln -sf /bin/bash /bin/sh
